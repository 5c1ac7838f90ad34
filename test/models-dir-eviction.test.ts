// A models directory end to end: at the cap on loaded models the least recently used idle model is
// unloaded to make room, a model with a stream running is never unloaded (and with nothing else to
// unload, another model's request is BUSY at once).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { complete, holdStream, stateOf, type ApiError, makeModelsDir, type ModelsDir } from "./support/models-dir.js";

let dir: ModelsDir;
before(() => {
  dir = makeModelsDir();
});
after(() => dir.close());

test("at the cap the least recently used idle model is unloaded; a model with a running stream never is", async () => {
  const { base, running } = await dir.start({ keepAlive: "-1", maxLoadedModels: 2 });
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
  const single = await dir.start({ keepAlive: "-1", maxLoadedModels: 1 });
  const heldAlone = holdStream(single.running, "org/beta");
  await heldAlone.first;
  const busy = await complete(single.base, "gamma", 2, true).catch((error: unknown) => error as ApiError);
  assert.equal((busy as ApiError).status, 503, String(busy));
  assert.match((busy as Error).message, /cannot be loaded now: 1 loaded models at most/);
  await heldAlone.rest();
  await complete(single.base, "gamma"); // the stream ended: now org/beta is idle and gives way
  assert.deepEqual([stateOf(single.running, "org/beta"), stateOf(single.running, "gamma")], ["unloaded", "loaded"]);
});
