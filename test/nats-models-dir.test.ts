// A scale-out worker serving a models directory (docs/models.md, "A models directory"): it
// announces every model it can load, with its state, in its heartbeats; the gateway lists them
// unloaded, routes a request for one to the worker, which loads it on demand, and then lists it
// loaded. (Which worker the gateway prefers when several can load a model is not decided here.)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NatsPipeline, startWorker } from "@modelnode/nats";
import { createModelsDirPipeline } from "@modelnode/onnx";
import { eventually } from "@modelnode/testing";
import { skipWithoutNats, startNatsServer, type NatsServer } from "./support/nats.js";
import { TINY_MODEL_DIR } from "./support/paths.js";

let root: string;
let nats: NatsServer;
let worker: Awaited<ReturnType<typeof startWorker>>;
let gateway: NatsPipeline;

before(async () => {
  if (skipWithoutNats) return;
  root = mkdtempSync(join(tmpdir(), "modelnode-nats-models-dir-"));
  for (const name of ["alpha", "beta"]) cpSync(TINY_MODEL_DIR, join(root, name), { recursive: true });
  nats = await startNatsServer();
  const pipeline = await createModelsDirPipeline({ models: {}, modelsDir: root, keepAliveMs: -1 });
  worker = await startWorker({ servers: nats.url, pipeline, name: "dir-worker", heartbeatMs: 200 });
  // A patient gateway: the first request to a model waits for its load on the worker.
  gateway = await NatsPipeline.connect({ servers: nats.url, requestTimeoutMs: 15_000 });
});
after(async () => {
  await gateway?.close();
  await worker?.drain(1000);
  await nats?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

test("the gateway lists a worker's directory models unloaded, a request loads one on the worker, and the list then shows it loaded", { skip: skipWithoutNats, timeout: 120_000 }, async () => {
  const state = (id: string) => gateway.listModels().find((m) => m.id === id)?.state;
  await eventually(() => state("alpha") === "unloaded" && state("beta") === "unloaded", () => `both models announced unloaded: ${JSON.stringify(gateway.listModels())}`);
  const result = await gateway.generate({ modelId: "beta", prompt: "Hello", maxTokens: 3, temperature: 0 });
  assert.equal(result.usage.completionTokens, 3);
  await eventually(() => state("beta") === "loaded", () => `beta announced loaded: ${JSON.stringify(gateway.listModels())}`);
  assert.equal(state("alpha"), "unloaded");
});
