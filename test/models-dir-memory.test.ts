// A models directory end to end, with a larger model (~90 MB of weights): the memory budget unloads
// the least recently used idle model to make room, the memory comes back when a model unloads (the
// process's RSS before the load, after it and after the unload), and a request that outwaits the
// load timeout gets BUSY while the load goes on.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Ollama } from "ollama";
import { eventually, pipelineStats, sleep } from "./support/node.js";
import { complete, stateOf, type ApiError, makeModelsDir, type ModelsDir } from "./support/models-dir.js";

let dir: ModelsDir;
before(() => {
  dir = makeModelsDir({ big: true });
});
after(() => dir.close());

test("the memory budget unloads the least recently used idle model to make room, and the memory comes back", async () => {
  const { base, running } = await dir.start({ keepAlive: "-1", memoryBudget: dir.bigBytes + Math.floor(1.5 * dir.tinyBytes) });
  await complete(base, "alpha");
  await complete(base, "gamma");
  assert.equal(pipelineStats(running.node).modelsLoaded, 2);
  // big fits beside one tiny model: the least recently used (alpha) goes, gamma stays.
  const before = process.memoryUsage().rss;
  await complete(base, "big", 1);
  const loaded = process.memoryUsage().rss;
  assert.deepEqual([stateOf(running, "alpha"), stateOf(running, "gamma"), stateOf(running, "big")], ["unloaded", "loaded", "loaded"]);
  const growth = loaded - before;
  assert.ok(growth > dir.bigBytes / 2, `loading ${dir.bigBytes} bytes of weights grew RSS by ${growth} bytes`);

  await new Ollama({ host: base }).generate({ model: "big", prompt: "Hi", keep_alive: 0, options: { num_predict: 1 } });
  await eventually(() => stateOf(running, "big") === "unloaded", "big to unload", 15_000);
  // The engine thread is gone and its session released; give the allocator a moment to hand pages back.
  let dropped = 0;
  for (let tries = 0; tries < 20 && dropped < growth / 2; tries++) {
    await sleep(100);
    dropped = loaded - process.memoryUsage().rss;
  }
  assert.ok(dropped >= growth / 2, `RSS: ${before} before, ${loaded} loaded, dropped ${dropped} after unloading (growth ${growth})`);
  console.log(`# RSS before ${(before / 2 ** 20).toFixed(0)} MiB, loaded ${(loaded / 2 ** 20).toFixed(0)} MiB (+${(growth / 2 ** 20).toFixed(0)}), unloaded −${(dropped / 2 ** 20).toFixed(0)} MiB; big's weights ${(dir.bigBytes / 2 ** 20).toFixed(0)} MiB`);
});

test("a request that outwaits the load timeout gets BUSY; the load goes on and serves the next", async () => {
  const { base, running } = await dir.start({ keepAlive: "-1", loadTimeout: "1ms" });
  const slow = await complete(base, "big", 1, true).catch((error: unknown) => error as ApiError);
  assert.equal((slow as ApiError).status, 503);
  assert.match((slow as Error).message, /still loading after 1 ms/);
  await eventually(() => stateOf(running, "big") === "loaded", "big to finish loading", 30_000);
  const answer = await complete(base, "big", 1);
  assert.equal(answer.choices.length, 1);
});
