import { test } from "node:test";
import assert from "node:assert/strict";
import { AddressFailures, failureDelayMs, pause } from "../src/throttle.js";

test("the per-connection delay doubles with each failure up to its ceiling", () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((n) => failureDelayMs(n, 200, 3000)),
    [200, 400, 800, 1600, 3000, 3000],
  );
  assert.equal(failureDelayMs(0, 200, 3000), 0);
  assert.equal(failureDelayMs(3, 0, 3000), 0);
  assert.equal(failureDelayMs(1000, 200, 3000), 3000);
});

test("pause ends at once when the connection goes away", async () => {
  const controller = new AbortController();
  const waiting = pause(60_000, controller.signal);
  controller.abort();
  await waiting; // would hang the test for a minute if the abort were ignored
});

test("an address is refused after `limit` failures until its window ends", () => {
  const addresses = new AddressFailures(3, 1000, 100);
  addresses.recordFailure("10.0.0.1", 0);
  addresses.recordFailure("10.0.0.1", 10);
  assert.equal(addresses.retryAfter("10.0.0.1", 20), 0);
  addresses.recordFailure("10.0.0.1", 20);
  assert.equal(addresses.retryAfter("10.0.0.1", 500), 500);
  assert.equal(addresses.retryAfter("10.0.0.2", 500), 0, "other addresses are not affected");
  assert.equal(addresses.retryAfter("10.0.0.1", 1000), 0, "a new window starts");
  addresses.recordFailure("10.0.0.1", 1001);
  assert.equal(addresses.retryAfter("10.0.0.1", 1002), 0, "the count restarted with the window");
});

test("address memory is bounded; limit 0 turns the check off", () => {
  const addresses = new AddressFailures(1, 60_000, 50);
  for (let i = 0; i < 1000; i++) addresses.recordFailure(`a${i}`, 0);
  assert.equal(addresses.size, 50);
  assert.ok(addresses.retryAfter("a999", 1) > 0);
  assert.equal(addresses.retryAfter("a0", 1), 0, "the oldest was forgotten");
  const off = new AddressFailures(0, 60_000, 50);
  off.recordFailure("x", 0);
  assert.equal(off.retryAfter("x", 1), 0);
  assert.equal(off.size, 0);
});
