// ModelLifecycle's rules with stand-in models (each load and close recorded): one load for concurrent first requests, least recently used idle model out first
// at the cap and the budget, a held model never out, keep-alive 0 and negative, BUSY when nothing
// can make room, a failed load retried by the next request. No timings: time-based unloading is
// the end-to-end test's (test/models-dir.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { isCodedError } from "@modelnode/core/pipeline";
import { ModelLifecycle, type LifecycleLimits } from "../src/main/model-lifecycle.js";
import { silentLogger } from "../src/shared/logger.js";

class Fake {
  closed = false;
  constructor(readonly id: string) {}
  async close(): Promise<void> {
    this.closed = true;
  }
}

function setUp(limits: Partial<LifecycleLimits> = {}, sizes: Record<string, number> = {}) {
  const loads: string[] = [];
  let failNext = false;
  const lifecycle = new ModelLifecycle<Fake>(
    { keepAliveMs: -1, maxLoadedModels: 10, memoryBudgetBytes: 1000, loadTimeoutMs: 60_000, ...limits },
    async (id) => {
      loads.push(id);
      if (failNext) {
        failNext = false;
        throw new Error(`cannot load ${id}`);
      }
      return new Fake(id);
    },
    (id) => sizes[id] ?? 1,
    silentLogger,
  );
  const states = (...ids: string[]) => ids.map((id) => lifecycle.status(id).state);
  return { lifecycle, loads, states, failOnce: () => (failNext = true) };
}

test("concurrent first requests share one load; the model is then loaded", async () => {
  const { lifecycle, loads, states } = setUp();
  const leases = await Promise.all([1, 2, 3, 4, 5].map(() => lifecycle.acquire("a")));
  assert.deepEqual(loads, ["a"]);
  assert.ok(leases.every((lease) => lease.model === leases[0].model));
  assert.deepEqual(states("a"), ["loaded"]);
  assert.equal(lifecycle.stats().modelLoads, 1);
  for (const lease of leases) lease.release();
  await lifecycle.close();
  assert.ok(leases[0].model.closed, "close unloads it");
});

test("at the cap the least recently used idle model goes; a held one never does, and with nothing idle the load is BUSY", async () => {
  const { lifecycle, states } = setUp({ maxLoadedModels: 2 });
  const a = await lifecycle.acquire("a");
  const b = await lifecycle.acquire("b");
  b.release();
  a.release(); // b is now the least recently used
  (await lifecycle.acquire("c")).release();
  assert.deepEqual(states("a", "b", "c"), ["loaded", "unloaded", "loaded"]);

  const held = await lifecycle.acquire("a"); // a is held; c idle
  const d = await lifecycle.acquire("d");
  assert.deepEqual(states("a", "c", "d"), ["loaded", "unloaded", "loaded"]);
  await assert.rejects(lifecycle.acquire("e"), (error: Error) => isCodedError(error) && error.code === "BUSY" && /2 loaded models at most/.test(error.message));
  assert.deepEqual(states("a", "d", "e"), ["loaded", "loaded", "unloaded"]);
  held.release();
  d.release();
  await lifecycle.close();
});

test("the memory budget makes room least recently used first, and refuses a model bigger than the budget", async () => {
  const { lifecycle, states } = setUp({ memoryBudgetBytes: 100 }, { a: 30, b: 40, big: 60, huge: 101 });
  (await lifecycle.acquire("a")).release();
  (await lifecycle.acquire("b")).release();
  (await lifecycle.acquire("a")).release(); // b least recently used
  (await lifecycle.acquire("big")).release(); // 30 + 40 + 60 > 100: b goes, a (used later) stays
  assert.deepEqual(states("a", "b", "big"), ["loaded", "unloaded", "loaded"]);
  assert.equal(lifecycle.stats().modelBytesLoaded, 90);
  await assert.rejects(lifecycle.acquire("huge"), /more than the models memory budget/);
  await lifecycle.close();
});

test("keep-alive 0 unloads right after the last holder; negative keeps it; a request's own keep-alive wins", async () => {
  const { lifecycle, states } = setUp({ keepAliveMs: -1 });
  const first = await lifecycle.acquire("a");
  const second = await lifecycle.acquire("a");
  first.release(0);
  assert.deepEqual(states("a"), ["loaded"], "still held by the second request");
  second.release(0);
  assert.deepEqual(states("a"), ["unloaded"]);
  assert.ok(first.model.closed);
  (await lifecycle.acquire("a")).release(); // the default: never
  assert.deepEqual(states("a"), ["loaded"]);
  assert.equal(lifecycle.status("a").expiresAt, undefined);
  (await lifecycle.acquire("a")).release(60_000);
  assert.ok(lifecycle.status("a").expiresAt! > Date.now());
  await lifecycle.close();
});

test("a failed load fails its waiters and is tried again by the next request", async () => {
  const { lifecycle, loads, failOnce } = setUp();
  failOnce();
  await assert.rejects(Promise.all([lifecycle.acquire("a"), lifecycle.acquire("a")]), /cannot load a/);
  assert.equal(lifecycle.stats().modelLoadFailures, 1);
  const lease = await lifecycle.acquire("a");
  assert.deepEqual(loads, ["a", "a"]);
  lease.release();
  await lifecycle.close();
});

test("preload loads with no request and idles for its keep-alive; unloadNow unloads an idle model at once, a held one when its last request ends", async () => {
  const { lifecycle, loads, states } = setUp({ keepAliveMs: -1 });
  await lifecycle.preload("a", 60_000);
  assert.deepEqual(loads, ["a"]);
  assert.deepEqual(states("a"), ["loaded"]);
  assert.ok(lifecycle.status("a").expiresAt! > Date.now(), "idling for the keep-alive it was given");
  await lifecycle.unloadNow("a");
  assert.deepEqual(states("a"), ["unloaded"]);
  await lifecycle.unloadNow("never-loaded"); // nothing to do: no error

  const held = await lifecycle.acquire("b");
  await lifecycle.unloadNow("b");
  assert.deepEqual(states("b"), ["loaded"], "a request still runs on it");
  held.release(); // the default keep-alive is "never", but the unload asked wins
  assert.deepEqual(states("b"), ["unloaded"]);
  assert.ok(held.model.closed);
  (await lifecycle.acquire("b")).release();
  assert.deepEqual(states("b"), ["loaded"], "loaded again later, the mark gone: it stays under the default");
  await lifecycle.close();
});
