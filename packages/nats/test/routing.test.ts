/**
 * The gateway's choice of worker (chooser.ts, WorkerPicker) and its load estimate (Membership):
 * generations spread over workers in proportion to their capacity, a burst between two
 * heartbeats included, and a full, draining or silent worker gets none.
 */
import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { chooseWorker, type Candidate } from "../src/chooser.js";
import { Membership } from "../src/membership.js";
import { encode, type Heartbeat } from "../src/protocol.js";
import { WorkerPicker } from "../src/routing.js";

const MODEL = { id: "m", contextLength: 64, vocabSize: 8, eosTokenIds: [] };

/** Assigns `n` generations one after the other, each to the chooser's pick; returns the count per worker. */
function spread(candidates: Candidate[], n: number, random?: () => number): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(candidates.map((c) => [c.worker, 0]));
  for (let i = 0; i < n; i++) {
    const pick = chooseWorker(candidates, random);
    assert.ok(pick, `a worker for generation ${i + 1}`);
    counts[pick]++;
    candidates.find((c) => c.worker === pick)!.load++;
  }
  return counts;
}

test("equal workers get equal shares: 16 generations on 4 workers are 4 each", () => {
  const ws = ["a", "b", "c", "d"].map((worker) => ({ worker, load: 0, capacity: 64 }));
  assert.deepEqual(spread(ws, 16), { a: 4, b: 4, c: 4, d: 4 });
});

test("workers of different capacities get shares in proportion: 8/4/4 slots take 6/3/3 of 12, then fill up to 8/4/4", () => {
  const ws = [
    { worker: "big", load: 0, capacity: 8 },
    { worker: "s1", load: 0, capacity: 4 },
    { worker: "s2", load: 0, capacity: 4 },
  ];
  assert.deepEqual(spread(ws, 12), { big: 6, s1: 3, s2: 3 });
  assert.deepEqual(spread(ws, 4), { big: 2, s1: 1, s2: 1 });
  assert.equal(chooseWorker(ws), undefined, "every worker is full: none is picked (the queue group's busy answers take over)");
});

test("a worker already loaded (its heartbeat) gets the next generations until the others catch up", () => {
  const ws = [
    { worker: "busy", load: 5, capacity: 8 },
    { worker: "idle", load: 0, capacity: 8 },
  ];
  assert.deepEqual(spread(ws, 7), { busy: 1, idle: 6 });
});

test("ties are broken at random, so gateways reading one heartbeat do not all pick the same worker", () => {
  const ws = ["a", "b", "c"].map((worker) => ({ worker, load: 1, capacity: 4 }));
  assert.equal(chooseWorker(ws, () => 0), "a");
  assert.equal(chooseWorker(ws, () => 0.5), "b");
  assert.equal(chooseWorker(ws, () => 0.99), "c");
  assert.equal(chooseWorker([], () => 0), undefined);
});

test("a worker that has the model loaded is preferred, then one loading it, then the least loaded; a full one is never picked", () => {
  const ws: Candidate[] = [
    { worker: "cold", load: 0, capacity: 8, modelState: "unloaded" },
    { worker: "warming", load: 1, capacity: 8, modelState: "loading" },
    { worker: "warm", load: 6, capacity: 8, modelState: "loaded" },
  ];
  assert.deepEqual(spread(ws, 2), { cold: 0, warming: 0, warm: 2 }, "the loaded worker takes generations while it has room, however busy");
  assert.deepEqual(spread(ws, 7), { cold: 0, warming: 7, warm: 0 }, "then the one loading it, until it is full");
  assert.deepEqual(spread(ws, 8), { cold: 8, warming: 0, warm: 0 }, "only then the one that would have to load it");
  // Without states (workers whose models are always loaded) the choice is by load alone, as before.
  const plain = [
    { worker: "a", load: 3, capacity: 8 },
    { worker: "b", load: 0, capacity: 8, modelState: "loaded" as const },
  ];
  assert.equal(chooseWorker(plain), "b");
  // Among loaded workers, the least loaded.
  const loaded: Candidate[] = [
    { worker: "x", load: 4, capacity: 8, modelState: "loaded" },
    { worker: "y", load: 1, capacity: 8, modelState: "loaded" },
    { worker: "z", load: 0, capacity: 8, modelState: "unloaded" },
  ];
  assert.equal(chooseWorker(loaded), "y");
});

function heartbeat(worker: string, fields: Partial<Heartbeat> = {}): Uint8Array {
  return encode({ worker, models: [MODEL], inFlight: 0, maxInFlight: 4, draining: false, periodMs: 100, ...fields } satisfies Heartbeat);
}

test("the gateway's estimate: the heartbeat's in-flight with its own share replaced by its exact count", () => {
  const members = new Membership(5000, 2, "me");
  members.onHeartbeat(heartbeat("w", { inFlight: 2, gateways: { other: 2 } }));
  members.assigned("w");
  members.assigned("w");
  members.assigned("w");
  assert.equal(members.load("w"), 5, "2 from the other gateway + 3 of ours");
  members.released("w");
  assert.equal(members.load("w"), 4);
  // A heartbeat sent before our latest offer arrived (it saw 1 of our 2): ours still count 2.
  members.onHeartbeat(heartbeat("w", { inFlight: 4, gateways: { other: 3, me: 1 } }));
  assert.equal(members.load("w"), 5, "3 from the other + our 2");
  // A worker of an earlier version says no shares: the larger of its figure and ours.
  members.onHeartbeat(heartbeat("old", { inFlight: 3 }));
  members.assigned("old");
  assert.equal(members.load("old"), 3);
  members.onHeartbeat(encode({ nonsense: true }));
  members.onHeartbeat(new TextEncoder().encode("not json"));
  assert.deepEqual(members.live().map((m) => m.worker), ["w", "old"], "unreadable heartbeats are ignored");
});

test("a burst between two heartbeats spreads by capacity; draining workers get none, lost ones none for avoidMs; silent ones are listed for a ping", (t) => {
  mock.timers.enable({ apis: ["Date"], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  const members = new Membership(5000, 2, "me");
  const picker = new WorkerPicker(members, 30_000);
  members.onHeartbeat(heartbeat("big", { maxInFlight: 8 }));
  members.onHeartbeat(heartbeat("small", { maxInFlight: 4 }));
  members.onHeartbeat(heartbeat("leaving", { maxInFlight: 8, draining: true }));
  const counts: Record<string, number> = {};
  const picks: string[] = [];
  for (let i = 0; i < 12; i++) {
    const w = picker.forGenerationTry("m")!;
    picker.reserve(w);
    picker.accepted(w);
    picks.push(w);
    counts[w] = (counts[w] ?? 0) + 1;
  }
  assert.deepEqual(counts, { big: 8, small: 4 });
  assert.equal(picker.forGenerationTry("m"), undefined, "all full: the queue group");
  assert.equal(picker.forGenerationTry("other"), undefined, "a model nobody announced: the queue group");
  assert.equal(picker.assignedSoFar("big"), 8);
  for (const w of picks) picker.release(w); // they ended

  // "small" keeps its heartbeats, "big" goes quiet: after two of its periods it is silent (pinged by Liveness).
  mock.timers.tick(150);
  members.onHeartbeat(heartbeat("small", { maxInFlight: 4 }));
  members.onHeartbeat(heartbeat("big", { maxInFlight: 8 }));
  mock.timers.tick(150);
  members.onHeartbeat(heartbeat("small", { maxInFlight: 4 }));
  assert.deepEqual(members.silent(), ["leaving"], "silent: no heartbeat for more than 2 × 100 ms");
  mock.timers.tick(100);
  members.onHeartbeat(heartbeat("small", { maxInFlight: 4 }));
  assert.deepEqual(members.silent().sort(), ["big", "leaving"]);
  assert.equal(picker.forGenerationTry("m"), "big", "silent is not dead (most often busy): still picked by load until a ping finds no responders");
  picker.lost("big");
  assert.equal(picker.forGenerationTry("m"), "small", "a lost worker is not picked");
  assert.ok(members.serving());
  picker.lost("small");
  assert.equal(members.serving(), false, "only a draining worker left: a gateway is not ready");
  members.onHeartbeat(heartbeat("big", { maxInFlight: 8 }));
  assert.ok(members.serving(), "big is back");
  assert.equal(picker.forGenerationTry("m"), undefined, "back, but avoided for avoidMs: the queue group");
});

test("the picker reads each model's state from the heartbeats: the worker with that model loaded gets it, per model", () => {
  const members = new Membership(5000, 2, "me");
  const picker = new WorkerPicker(members, 30_000);
  const a = { ...MODEL, id: "a" };
  const b = { ...MODEL, id: "b" };
  members.onHeartbeat(heartbeat("w1", { models: [{ ...a, state: "loaded" }, { ...b, state: "unloaded" }], inFlight: 3, gateways: { other: 3 } }));
  members.onHeartbeat(heartbeat("w2", { models: [{ ...a, state: "unloaded" }, { ...b, state: "loading" }] }));
  assert.equal(picker.forGenerationTry("a"), "w1", "w1 has a loaded: chosen though busier");
  assert.equal(picker.forGenerationTry("b"), "w2", "w2 is loading b");
  picker.reserve("w1"); // w1 is now full (4 of 4): the unloaded worker takes a
  assert.equal(picker.forGenerationTry("a"), "w2");
});

test("limits are checked when a gateway or worker starts, naming the field", async () => {
  const { NatsPipeline, startWorker } = await import("../src/index.js");
  await assert.rejects(NatsPipeline.connect({ servers: "nats://127.0.0.1:1", missedHeartbeats: 0 }), /natsPipeline: missedHeartbeats/);
  await assert.rejects(NatsPipeline.connect({ servers: "nats://127.0.0.1:1", livenessCheckMs: Number.NaN }), /livenessCheckMs/);
  await assert.rejects(startWorker({ servers: "nats://127.0.0.1:1", pipeline: {} as never, heartbeatMs: -1 }), /startWorker: heartbeatMs/);
  await assert.rejects(startWorker({ servers: "nats://127.0.0.1:1", pipeline: {} as never, maxInFlight: 2.5 }), /maxInFlight/);
});
