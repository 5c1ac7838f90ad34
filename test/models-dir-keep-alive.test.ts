// A models directory end to end: a model unloads after the node's keep-alive, and right after a
// request that gives Ollama's keep_alive 0 (through the official ollama client) even when the
// node's keep-alive is long.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Ollama } from "ollama";
import { eventually, pipelineStats } from "./support/node.js";
import { complete, stateOf, makeModelsDir, type ModelsDir } from "./support/models-dir.js";

let dir: ModelsDir;
before(() => {
  dir = makeModelsDir();
});
after(() => dir.close());

test("a model unloads after the node's keep-alive, and right after a request with Ollama's keep_alive 0", async () => {
  const { base, running } = await dir.start({ keepAlive: "1s" });
  await complete(base, "alpha");
  assert.equal(stateOf(running, "alpha"), "loaded");
  await eventually(() => pipelineStats(running.node).modelUnloads === 1, "alpha to unload after its 1 s keep-alive", 15_000);
  assert.equal(stateOf(running, "alpha"), "unloaded");

  const long = await dir.start({ keepAlive: "10m" });
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

test("Ollama's load and unload requests: no prompt loads the model, no prompt with keep_alive 0 unloads it at once (generate and chat)", async () => {
  const { base, running } = await dir.start({ keepAlive: "10m" });
  const ollama = new Ollama({ host: base });
  const load = await ollama.generate({ model: "org/beta", prompt: "" });
  assert.equal(load.done_reason, "load");
  assert.equal(load.response, "");
  assert.equal(stateOf(running, "org/beta"), "loaded", "loaded by the request, with no generation");
  assert.deepEqual((await ollama.ps()).models.map((m) => m.name), ["org/beta"]);

  const unload = await ollama.generate({ model: "org/beta", prompt: "", keep_alive: 0 });
  assert.equal(unload.done_reason, "unload");
  assert.equal(unload.done, true);
  assert.equal(stateOf(running, "org/beta"), "unloaded", "out of memory by the time the answer comes");
  assert.deepEqual((await ollama.ps()).models, [], "/api/ps no longer lists it");
  assert.equal(pipelineStats(running.node).modelUnloads, 1);

  // The same through /api/chat with no messages; an unknown model is Ollama's 404.
  assert.equal((await ollama.chat({ model: "alpha", messages: [] })).done_reason, "load");
  assert.equal(stateOf(running, "alpha"), "loaded");
  const chatUnload = await ollama.chat({ model: "alpha", messages: [], keep_alive: 0 });
  assert.equal(chatUnload.done_reason, "unload");
  assert.equal(chatUnload.message.content, "");
  assert.equal(stateOf(running, "alpha"), "unloaded");
  await assert.rejects(ollama.generate({ model: "nope", prompt: "", keep_alive: 0 }), (error: Error & { status_code?: number }) => error.status_code === 404 && /nope/.test(error.message));
  // Unloading a model that is not loaded is no error.
  assert.equal((await ollama.generate({ model: "gamma", prompt: "", keep_alive: 0 })).done_reason, "unload");
});
