/**
 * A model's generation_config.json sampling applies through the node: the inference plugin leaves
 * temperature/top_p/top_k to the pipeline unless the request (or the operator's config) sets them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { header, TestClient } from "@modelnode/testing";
import { startNode } from "./support/node.js";
import { TINY_MODEL_DIR } from "./support/paths.js";

test("request > operator config > the model's generation_config.json > greedy", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "modelnode-genconfig-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(TINY_MODEL_DIR, dir, { recursive: true });
  writeFileSync(join(dir, "generation_config.json"), JSON.stringify({ bos_token_id: 50256, eos_token_id: 50256, do_sample: true, temperature: 1.5, top_p: 1.0, top_k: 0 }));
  const { node, url } = await startNode({ models: { sampled: dir, plain: TINY_MODEL_DIR } });
  t.after(() => node.close());
  const client = await TestClient.connect(url);
  t.after(() => client.close());
  const ask = async (payload: Record<string, unknown>) => (await client.request({ header: header("inference_request"), prompt: "Once upon a time", max_tokens: 20, ...payload })).text as string;

  const greedy = await ask({ model_id: "sampled", temperature: 0 });
  const byModel = await ask({ model_id: "sampled", seed: 7 });
  const explicit = await ask({ model_id: "sampled", seed: 7, temperature: 1.5 });
  assert.equal(byModel, explicit, "without a temperature, the model's own (1.5) applies");
  assert.notEqual(byModel, greedy, "and it samples");
  // A model without sampling in its generation_config stays greedy by default.
  assert.equal(await ask({ model_id: "plain", seed: 7 }), await ask({ model_id: "plain", temperature: 0 }));
});

test("an operator default (inference.defaults.temperature) still wins over the model's", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "modelnode-genconfig-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(TINY_MODEL_DIR, dir, { recursive: true });
  writeFileSync(join(dir, "generation_config.json"), JSON.stringify({ do_sample: true, temperature: 1.5 }));
  const { node, url } = await startNode({ models: { sampled: dir }, inference: { defaults: { temperature: 0 } } });
  t.after(() => node.close());
  const client = await TestClient.connect(url);
  t.after(() => client.close());
  const ask = async (payload: Record<string, unknown>) => (await client.request({ header: header("inference_request"), model_id: "sampled", prompt: "Once upon a time", max_tokens: 20, ...payload })).text as string;
  assert.equal(await ask({ seed: 1 }), await ask({ seed: 2 }), "greedy: the operator's temperature 0");
});
