import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MAX_TRACKED_WORKERS, heartbeatOptionsSchema, heartbeatPlugin, resolveHeartbeatOptions } from "../src/index.js";

test("heartbeatOptionsSchema: defaults, and a function-valued degraded check is allowed", () => {
  assert.deepEqual(heartbeatOptionsSchema.parse({}), { maxTrackedWorkers: DEFAULT_MAX_TRACKED_WORKERS, degradedQueueLength: 64, pipelineReadIntervalMs: 100 });
  const degraded = () => false;
  assert.equal(heartbeatOptionsSchema.parse({ degraded }).degraded, degraded);
  assert.deepEqual(resolveHeartbeatOptions({ maxTrackedWorkers: 0 }), { maxTrackedWorkers: 0, degradedQueueLength: 64, pipelineReadIntervalMs: 100, degraded: undefined });
  assert.equal(resolveHeartbeatOptions({ pipelineReadIntervalMs: 0 }).pipelineReadIntervalMs, 0);
  assert.throws(() => heartbeatPlugin({ pipelineReadIntervalMs: -5 }), { message: "heartbeatPlugin: pipelineReadIntervalMs must be a whole number ≥ 0" });
});

test("heartbeatOptionsSchema refuses NaN, negatives, fractions and unknown options, naming the field", () => {
  for (const bad of [Number.NaN, -1, 1.5, Infinity, "10"]) {
    const result = heartbeatOptionsSchema.safeParse({ maxTrackedWorkers: bad });
    assert.equal(result.success, false, String(bad));
    assert.deepEqual(result.error!.issues[0].path, ["maxTrackedWorkers"]);
    assert.equal(result.error!.issues[0].message, "expected a whole number ≥ 0");
    assert.throws(() => heartbeatPlugin({ maxTrackedWorkers: bad as number }), {
      name: "TypeError",
      message: "heartbeatPlugin: maxTrackedWorkers must be a whole number ≥ 0",
    });
  }
  assert.throws(() => heartbeatPlugin({ maxTrackedWorker: 5 } as never), { message: 'heartbeatPlugin: unknown option "maxTrackedWorker"' });
  assert.throws(() => heartbeatPlugin({ degraded: true as never }), {
    message: "heartbeatPlugin: degraded must be a function returning a boolean",
  });
});
