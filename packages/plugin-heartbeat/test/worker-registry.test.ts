import { test } from "node:test";
import assert from "node:assert/strict";
import { WorkerRegistry } from "../src/index.js";

test("counts heartbeats per worker and keeps the latest time", () => {
  const workers = new WorkerRegistry(10);
  workers.seen("a", Date.parse("2024-01-01T00:00:00Z"));
  assert.equal(workers.seen("a", Date.parse("2024-01-01T00:00:05Z")), 2);
  assert.deepEqual(workers.get("a"), { last_seen: "2024-01-01T00:00:05.000Z", count: 2 });
  assert.equal(workers.get("b"), undefined);
});

test("evicts the least recently seen worker beyond the bound", () => {
  const workers = new WorkerRegistry(2);
  workers.seen("a", 1);
  workers.seen("b", 2);
  workers.seen("a", 3); // a is now more recent than b
  workers.seen("c", 4);
  assert.deepEqual(Object.keys(workers.toJSON()), ["a", "c"]);
  assert.equal(workers.size, 2);
  assert.equal(workers.evicted, 1);
});

test("memory stays bounded under many distinct workers", () => {
  const workers = new WorkerRegistry(100);
  for (let i = 0; i < 5000; i++) workers.seen(`w${i}`);
  assert.equal(workers.size, 100);
  assert.equal(workers.evicted, 4900);
  assert.ok(workers.get("w4999"));
  assert.equal(workers.get("w0"), undefined);
});

test("maxTracked 0 turns tracking off", () => {
  const workers = new WorkerRegistry(0);
  workers.seen("a");
  assert.equal(workers.size, 0);
  assert.deepEqual(workers.toJSON(), {});
});

test("a worker named __proto__ is a plain key, not a prototype change", () => {
  const workers = new WorkerRegistry(10);
  workers.seen("__proto__", 0);
  const json = workers.toJSON();
  assert.equal(Object.getPrototypeOf(json), Object.prototype);
  assert.deepEqual(Object.keys(json), ["__proto__"]);
  assert.equal(JSON.parse(JSON.stringify(json))["__proto__"].count, 1);
});
