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
