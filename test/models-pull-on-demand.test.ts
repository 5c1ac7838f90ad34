// Pull on first request end to end: an example node with an empty models directory and
// --pull-on-demand (config pullOnDemand) answers an OpenAI SDK request for a Hub id by pulling it
// from a Hub-shaped server on loopback (@modelnode/hub/testing) and loading it; concurrent first
// requests pull once (the Hub's requests counted); a dtype id pulls that graph; a model the Hub
// lacks (or, offline, one never pulled) is MODEL_NOT_FOUND naming the reason; without the flag the same id is MODEL_NOT_FOUND and
// the Hub is never asked.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ollama } from "ollama";
import { buildModel, MODEL_PRESETS } from "@modelnode/model-builder";
import { startFakeHub, type FakeHub } from "@modelnode/hub/testing";
import { createModelNode } from "@modelnode/example-model-node";
import { startNode, pipelineStats, type RunningNode } from "./support/node.js";
import { complete, stateOf, type ApiError } from "./support/models-dir.js";
import { TINY_MODEL_DIR } from "./support/paths.js";

const REPO_ID = "modelnode-tests/tiny-gpt2-onnx";
let root: string;
let hub: FakeHub;
const nodes: RunningNode[] = [];

before(async () => {
  root = mkdtempSync(join(tmpdir(), "modelnode-pull-on-demand-"));
  buildModel({ out: join(root, "repo"), model: { ...MODEL_PRESETS["tiny-gpt2"], dtypes: ["fp32", "q8"] } });
  hub = await startFakeHub({ repos: { [REPO_ID]: join(root, "repo") } });
});
after(async () => {
  await Promise.all(nodes.map(({ node }) => node.close()));
  await hub?.close();
  rmSync(root, { recursive: true, force: true });
});

/** A node serving a models directory of its own: empty, or holding `local/` (a node that pulls nothing needs a model to start). */
async function start(name: string, pullOnDemand?: { enabled: boolean; hubUrl: string }) {
  const modelsDir = join(root, name);
  rmSync(modelsDir, { recursive: true, force: true });
  mkdirSync(modelsDir);
  if (!pullOnDemand) cpSync(TINY_MODEL_DIR, join(modelsDir, "local"), { recursive: true });
  const running = await startNode({ models: undefined, modelsDir, ...(pullOnDemand ? { pullOnDemand } : {}) });
  nodes.push(running);
  return { base: `http://127.0.0.1:${running.port}`, running, modelsDir };
}

/** The Hub's answers to "which revision is this model at": one per pull. */
const revisionLookups = () => hub.requests.filter((r) => r.path.includes("/revision/")).length;

test("a request for a Hub id the directory lacks pulls it once (concurrent requests included), loads it and answers", async () => {
  const { base, running, modelsDir } = await start("pulling", { enabled: true, hubUrl: hub.url });
  const before = revisionLookups();
  const [first, second] = await Promise.all([complete(base, REPO_ID, 4), complete(base, REPO_ID, 4)]);
  assert.equal(revisionLookups() - before, 1, "two concurrent first requests: one pull");
  assert.equal(first.choices[0].text, second.choices[0].text);
  assert.ok(first.choices[0].text.length > 0);
  assert.equal(first.model, REPO_ID);
  assert.ok(existsSync(join(modelsDir, "modelnode-tests", "tiny-gpt2-onnx", "onnx", "model.onnx")), "pulled into <models-dir>/<org>/<name>/");
  assert.equal(stateOf(running, REPO_ID), "loaded");
  assert.equal(pipelineStats(running.node).modelFetches, 1);

  // Now in the directory: no Hub request for the next one.
  await complete(base, REPO_ID, 2);
  assert.equal(revisionLookups() - before, 1);

  // A dtype id pulls that graph into the same folder and serves it.
  const q8 = await complete(base, `${REPO_ID}:q8`, 4);
  assert.ok(q8.choices[0].text.length > 0);
  assert.ok(existsSync(join(modelsDir, "modelnode-tests", "tiny-gpt2-onnx", "onnx", "model_quantized.onnx")));
  assert.equal(stateOf(running, `${REPO_ID}:q8`), "loaded");

  // A model the Hub does not have: MODEL_NOT_FOUND, naming the model and why.
  const missing = await complete(base, "modelnode-tests/no-such-model", 2, true).catch((error: unknown) => error as ApiError);
  assert.equal((missing as ApiError).status, 404);
  assert.equal(((missing as ApiError).error as any)?.code, "model_not_found");
  assert.match((missing as ApiError).message, /modelnode-tests\/no-such-model.*could not be pulled/);
  // A dtype the repository lacks, the same, listing what it has.
  const noDtype = await complete(base, `${REPO_ID}:q4`, 2, true).catch((error: unknown) => error as ApiError);
  assert.equal((noDtype as ApiError).status, 404);
  assert.match((noDtype as ApiError).message, /no q4 graph in the repository \(it has fp32, q8\)/);
  // Offline (HF_HUB_OFFLINE=1), a model never pulled: MODEL_NOT_FOUND saying so, without asking the Hub.
  process.env.HF_HUB_OFFLINE = "1";
  try {
    const asked = hub.requests.length;
    const offline = await complete(base, "modelnode-tests/never-pulled", 2, true).catch((error: unknown) => error as ApiError);
    assert.equal((offline as ApiError).status, 404);
    assert.match((offline as ApiError).message, /offline .* is not in the cache/);
    assert.equal(hub.requests.length, asked);
  } finally {
    delete process.env.HF_HUB_OFFLINE;
  }
  // The node still serves.
  assert.ok((await complete(base, REPO_ID, 2)).choices[0].text.length > 0);
});

test("through the Ollama API too: /api/generate for a Hub id the directory lacks pulls and answers; unloading a model never pulled is a 404", async () => {
  const { base } = await start("ollama-pulling", { enabled: true, hubUrl: hub.url });
  const ollama = new Ollama({ host: base });
  const before = revisionLookups();
  await assert.rejects(ollama.generate({ model: `${REPO_ID}:q8`, prompt: "", keep_alive: 0 }), (error: Error & { status_code?: number }) => error.status_code === 404);
  assert.equal(revisionLookups(), before, "nothing pulled only to unload it");
  const reply = await ollama.generate({ model: `${REPO_ID}:q8`, prompt: "Hello", options: { num_predict: 3, temperature: 0 } });
  assert.ok(reply.response.length > 0);
  assert.equal(revisionLookups() - before, 1);
  assert.deepEqual((await ollama.ps()).models.map((m) => m.name), [`${REPO_ID}:q8`]);
});

test("without --pull-on-demand the same id is MODEL_NOT_FOUND and the Hub is never asked", async () => {
  const { base } = await start("not-pulling");
  const asked = hub.requests.length;
  const refused = await complete(base, REPO_ID, 2, true).catch((error: unknown) => error as ApiError);
  assert.equal((refused as ApiError).status, 404);
  assert.equal(((refused as ApiError).error as any)?.code, "model_not_found");
  assert.equal(hub.requests.length, asked);
  assert.ok((await complete(base, "local", 2)).choices[0].text.length > 0, "its own models are served as before");
});

test("pull on demand needs a models directory and an http(s) hub URL, checked at startup", async () => {
  await assert.rejects(createModelNode({ pullOnDemand: { enabled: true } }), /pullOnDemand\.enabled: expected a modelsDir/);
  await assert.rejects(createModelNode({ modelsDir: root, pullOnDemand: { enabled: true, hubUrl: "ftp://hub" } }), /pullOnDemand\.hubUrl: expected an http\(s\) URL/);
});
