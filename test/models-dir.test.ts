// A models directory end to end (docs/models.md, "A models directory"): the example node started
// with `modelsDir` over a temp folder of seeded models (copies of the bundled tiny model as
// `alpha/`, `org/beta/` and `gamma/`, and a larger one built by the model builder as `big/`),
// asked through the official clients (openai, ollama) and the WebSocket protocol. Each model loads
// on its first request (concurrent first requests share one load), unloads after its keep-alive
// or right after a request with Ollama's keep_alive 0, gives way least recently used first to the
// cap on loaded models and to the memory budget, but never while a stream runs on it; its memory
// returns when it unloads; and every list shows each model's state.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { Ollama } from "ollama";
import { PIPELINE } from "@modelnode/core";
import type { ModelNodeConfigInput } from "@modelnode/example-model-node";
import { buildModel, MODEL_PRESETS, type Gpt2Spec } from "@modelnode/model-builder";
import { TestClient } from "@modelnode/testing";
import { eventually, pipelineStats, sleep, startNode, type RunningNode } from "./support/node.js";
import { TINY_MODEL_DIR } from "./support/paths.js";

let root: string;
let bigBytes: number;
let tinyBytes: number;
const started: RunningNode[] = [];

before(() => {
  root = mkdtempSync(join(tmpdir(), "modelnode-models-dir-"));
  for (const name of ["alpha", join("org", "beta"), "gamma"]) cpSync(TINY_MODEL_DIR, join(root, name), { recursive: true });
  // ~80 MB of fp32 weights: enough for its load and unload to show in the process's RSS.
  const big: Gpt2Spec = { ...(MODEL_PRESETS["tiny-gpt2"] as Gpt2Spec), hidden: 384, heads: 6, layers: 2, seed: 11 };
  buildModel({ out: join(root, "big"), model: big });
  bigBytes = statSync(join(root, "big", "onnx", "model.onnx")).size;
  tinyBytes = statSync(join(TINY_MODEL_DIR, "onnx", "model.onnx")).size;
});

after(async () => {
  await Promise.all(started.map(({ node }) => node.close()));
  rmSync(root, { recursive: true, force: true });
});

async function start(modelLifecycle: ModelNodeConfigInput["modelLifecycle"]): Promise<{ base: string; running: RunningNode }> {
  const running = await startNode({ models: undefined, modelsDir: root, modelLifecycle });
  started.push(running);
  return { base: `http://127.0.0.1:${running.port}`, running };
}

/** GPT-2's end-of-text token never chosen: a held stream cannot end early. */
const NO_EOS_IDS = { 50256: -100 };
const stateOf = (running: RunningNode, id: string) => running.node.container.resolve(PIPELINE).listModels().find((m) => m.id === id)?.state;
const getJson = async (url: string) => (await (await fetch(url)).json()) as any;
const openaiOf = (base: string, maxRetries = 0) => new OpenAI({ baseURL: `${base}/v1`, apiKey: "x", maxRetries });
/** One short completion; `expectError`: no retry (the SDK would retry a 503). */
const complete = (base: string, model: string, maxTokens = 2, expectError = false) =>
  openaiOf(base, expectError ? 0 : 2).completions.create({ model, prompt: "Hello", max_tokens: maxTokens, temperature: 0 });

test("the directory's models are listed unloaded with their size, load once on concurrent first requests, and every list shows them loaded", async () => {
  const { base, running } = await start({ keepAlive: "10m" });
  const models = await getJson(`${base}/v1/models`);
  assert.deepEqual(
    models.data.map((m: any) => [m.id, m.state]),
    [["alpha", "unloaded"], ["big", "unloaded"], ["gamma", "unloaded"], ["org/beta", "unloaded"]],
  );
  assert.equal(models.data.find((m: any) => m.id === "alpha").size_bytes, tinyBytes);
  assert.deepEqual((await getJson(`${base}/api/ps`)).models, []);
  const tags = await new Ollama({ host: base }).list();
  assert.equal(tags.models.find((m) => m.name === "big")?.size, bigBytes);

  const answers = await Promise.all([1, 2, 3, 4].map(() => complete(base, "org/beta")));
  assert.ok(answers.every((answer) => answer.choices[0].text.length > 0));
  assert.equal(pipelineStats(running.node).modelLoads, 1, "four concurrent first requests, one load");

  assert.equal((await getJson(`${base}/v1/models`)).data.find((m: any) => m.id === "org/beta").state, "loaded");
  const ps = await new Ollama({ host: base }).ps();
  assert.deepEqual(ps.models.map((m) => m.name), ["org/beta"]);
  const expires = new Date(ps.models[0].expires_at).getTime();
  assert.ok(expires > Date.now() + 9 * 60_000 && expires <= Date.now() + 10 * 60_000, `expires_at ${ps.models[0].expires_at} is ~10 minutes away`);
  const client = await TestClient.connect(`ws://127.0.0.1:${running.port}`);
  try {
    const reply = (await client.call("list_models", {})) as any;
    assert.deepEqual(reply.models.map((m: any) => [m.id, m.state]), [["alpha", "unloaded"], ["big", "unloaded"], ["gamma", "unloaded"], ["org/beta", "loaded"]]);
  } finally {
    client.close();
  }
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /^modelnode_model_loads_total 1$/m);
  assert.match(metrics, /^modelnode_models_loaded 1$/m);

  const unknown = await complete(base, "no-such-model", 2, true).catch((error: unknown) => error as InstanceType<typeof OpenAI.APIError>);
  assert.equal((unknown as InstanceType<typeof OpenAI.APIError>).status, 404);
  assert.equal(((unknown as InstanceType<typeof OpenAI.APIError>).error as any)?.code, "model_not_found");
});

test("a model unloads after the node's keep-alive, and right after a request with Ollama's keep_alive 0", async () => {
  const { base, running } = await start({ keepAlive: "1s" });
  await complete(base, "alpha");
  assert.equal(stateOf(running, "alpha"), "loaded");
  await eventually(() => pipelineStats(running.node).modelUnloads === 1, "alpha to unload after its 1 s keep-alive", 15_000);
  assert.equal(stateOf(running, "alpha"), "unloaded");

  const long = await start({ keepAlive: "10m" });
  const ollama = new Ollama({ host: long.base });
  const reply = await ollama.chat({ model: "gamma", messages: [{ role: "user", content: "Hi" }], keep_alive: 0, options: { num_predict: 2 } });
  assert.ok(reply.message.content.length >= 0);
  // The default keep-alive is 10 minutes: only keep_alive 0 unloads it now.
  await eventually(() => stateOf(long.running, "gamma") === "unloaded", "gamma to unload after a keep_alive 0 request", 10_000);
  assert.deepEqual((await ollama.ps()).models, []);
  // A later request without keep_alive loads it again, under the node's default.
  await ollama.generate({ model: "gamma", prompt: "Hi", options: { num_predict: 1 } });
  assert.equal(stateOf(long.running, "gamma"), "loaded");
  assert.equal(pipelineStats(long.running.node).modelLoads, 2);
});

test("at the cap the least recently used idle model is unloaded; a model with a running stream never is", async () => {
  const { base, running } = await start({ keepAlive: "-1", maxLoadedModels: 2 });
  await complete(base, "alpha");
  await complete(base, "gamma");
  await complete(base, "alpha"); // gamma is now the least recently used
  await complete(base, "org/beta");
  assert.deepEqual([stateOf(running, "alpha"), stateOf(running, "gamma"), stateOf(running, "org/beta")], ["loaded", "unloaded", "loaded"]);

  // A stream on org/beta, held open: its reader takes the first piece and then waits (the node's
  // own pipeline, as a door streams from it; the engine pauses a generation nobody reads).
  const held = holdStream(running, "org/beta");
  await held.first;
  await complete(base, "gamma"); // evicts alpha (idle), not org/beta (streaming)
  assert.deepEqual([stateOf(running, "alpha"), stateOf(running, "gamma"), stateOf(running, "org/beta")], ["unloaded", "loaded", "loaded"]);
  await complete(base, "alpha"); // evicts gamma again
  assert.deepEqual([stateOf(running, "alpha"), stateOf(running, "gamma"), stateOf(running, "org/beta")], ["loaded", "unloaded", "loaded"]);
  assert.ok((await held.rest()) > 0, "the stream ran to its end");

  // With the cap at one and that one model streaming, another model cannot load: BUSY (503), at once.
  const single = await start({ keepAlive: "-1", maxLoadedModels: 1 });
  const heldAlone = holdStream(single.running, "org/beta");
  await heldAlone.first;
  const busy = await complete(single.base, "gamma", 2, true).catch((error: unknown) => error as InstanceType<typeof OpenAI.APIError>);
  assert.equal((busy as InstanceType<typeof OpenAI.APIError>).status, 503, String(busy));
  assert.match((busy as Error).message, /cannot be loaded now: 1 loaded models at most/);
  await heldAlone.rest();
  await complete(single.base, "gamma"); // the stream ended: now org/beta is idle and gives way
  assert.deepEqual([stateOf(single.running, "org/beta"), stateOf(single.running, "gamma")], ["unloaded", "loaded"]);
});

/** A 300-token stream on `model` whose first piece is read at once and the rest only when asked (then counted, in characters). */
function holdStream(running: RunningNode, model: string) {
  const stream = running.node.container.resolve(PIPELINE).stream({ modelId: model, prompt: "Once", maxTokens: 300, temperature: 0, logitBias: NO_EOS_IDS });
  const iterator = stream[Symbol.asyncIterator]();
  const first = iterator.next();
  return {
    first,
    rest: async () => {
      let chars = 0;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) if (next.value.kind === "text") chars += next.value.text.length;
      return chars;
    },
  };
}

test("the memory budget unloads the least recently used idle model to make room, and the memory comes back", async () => {
  const { base, running } = await start({ keepAlive: "-1", memoryBudget: bigBytes + Math.floor(1.5 * tinyBytes) });
  await complete(base, "alpha");
  await complete(base, "gamma");
  assert.equal(pipelineStats(running.node).modelsLoaded, 2);
  // big fits beside one tiny model: the least recently used (alpha) goes, gamma stays.
  const before = process.memoryUsage().rss;
  await complete(base, "big", 1);
  const loaded = process.memoryUsage().rss;
  assert.deepEqual([stateOf(running, "alpha"), stateOf(running, "gamma"), stateOf(running, "big")], ["unloaded", "loaded", "loaded"]);
  const growth = loaded - before;
  assert.ok(growth > bigBytes / 2, `loading ${bigBytes} bytes of weights grew RSS by ${growth} bytes`);

  await new Ollama({ host: base }).generate({ model: "big", prompt: "Hi", keep_alive: 0, options: { num_predict: 1 } });
  await eventually(() => stateOf(running, "big") === "unloaded", "big to unload", 15_000);
  // The engine thread is gone and its session released; give the allocator a moment to hand pages back.
  let dropped = 0;
  for (let tries = 0; tries < 20 && dropped < growth / 2; tries++) {
    await sleep(100);
    dropped = loaded - process.memoryUsage().rss;
  }
  assert.ok(dropped >= growth / 2, `RSS: ${before} before, ${loaded} loaded, dropped ${dropped} after unloading (growth ${growth})`);
  console.log(`# RSS before ${(before / 2 ** 20).toFixed(0)} MiB, loaded ${(loaded / 2 ** 20).toFixed(0)} MiB (+${(growth / 2 ** 20).toFixed(0)}), unloaded −${(dropped / 2 ** 20).toFixed(0)} MiB; big's weights ${(bigBytes / 2 ** 20).toFixed(0)} MiB`);
});

test("a request that outwaits the load timeout gets BUSY; the load goes on and serves the next", async () => {
  const { base, running } = await start({ keepAlive: "-1", loadTimeout: "1ms" });
  const slow = await complete(base, "big", 1, true).catch((error: unknown) => error as InstanceType<typeof OpenAI.APIError>);
  assert.equal((slow as InstanceType<typeof OpenAI.APIError>).status, 503);
  assert.match((slow as Error).message, /still loading after 1 ms/);
  await eventually(() => stateOf(running, "big") === "loaded", "big to finish loading", 30_000);
  const answer = await complete(base, "big", 1);
  assert.equal(answer.choices.length, 1);
});
