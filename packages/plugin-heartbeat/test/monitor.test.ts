import { test } from "node:test";
import assert from "node:assert/strict";
import type { Logger, NodeInfo, NodeStats, NodeStatus } from "@modelnode/core";
import { heartbeatPlugin, HeartbeatMonitor, type HeartbeatOptions } from "../src/index.js";
import { FakePipeline } from "./helpers.js";

const silent = { warn() {} } as unknown as Logger;

function fakeNode(status: NodeStatus = "healthy"): NodeInfo {
  const stats = { active_connections: 3, in_flight: 2 } as NodeStats;
  return {
    nodeId: "node-a",
    startedAt: new Date(Date.now() - 61_000),
    status: () => status,
    load: () => ({ connections: stats.active_connections, inFlight: stats.in_flight }),
    getStats: () => stats,
  };
}

function monitor(options: HeartbeatOptions, node = fakeNode(), pipeline?: FakePipeline) {
  return new HeartbeatMonitor(
    {
      maxTrackedWorkers: 10,
      degradedQueueLength: options.degradedQueueLength ?? 64,
      pipelineReadIntervalMs: options.pipelineReadIntervalMs ?? 100,
      degraded: options.degraded,
    },
    { nodeInfo: () => node, pipeline: () => pipeline, logger: silent },
  );
}

test("without a pipeline: node figures, zeros for the pipeline, no models", () => {
  assert.deepEqual(monitor({}).report(), {
    node_id: "node-a",
    status: "healthy",
    uptime_seconds: 61,
    load: { connections: 3, in_flight: 2, active_sessions: 0, generations_in_flight: 0, queued_generations: 0 },
    models: [],
  });
});

test("with a pipeline: its sessions, generations and model ids", () => {
  const pipeline = new FakePipeline(["tiny-gpt2", "other"]);
  pipeline.figures = { activeSessions: 4, generationsInFlight: 1, cacheBytes: 10 };
  const report = monitor({}, fakeNode(), pipeline).report();
  assert.deepEqual(report.load, { connections: 3, in_flight: 2, active_sessions: 4, generations_in_flight: 1, queued_generations: 0 });
  assert.deepEqual(report.models, ["tiny-gpt2", "other"]);
  assert.equal(report.status, "healthy");
});

test("a short queue is normal (healthy); degraded from degradedQueueLength waiting generations", () => {
  const pipeline = new FakePipeline(["m"]);
  pipeline.figures = { activeSessions: 0, generationsInFlight: 2, cacheBytes: 0, queuedGenerations: 5 };
  const report = monitor({}, fakeNode(), pipeline).report();
  assert.equal(report.status, "healthy", "five waiting generations under load are not trouble");
  assert.equal(report.load.queued_generations, 5);
  pipeline.figures = { activeSessions: 0, generationsInFlight: 2, cacheBytes: 0, queuedGenerations: 64 };
  assert.equal(monitor({}, fakeNode(), pipeline).report().status, "degraded", "the default threshold is 64");
  // The threshold is an option (0: off).
  pipeline.figures = { activeSessions: 0, generationsInFlight: 2, cacheBytes: 0, queuedGenerations: 3 };
  assert.equal(monitor({ degradedQueueLength: 3 }, fakeNode(), pipeline).report().status, "degraded");
  assert.equal(monitor({ degradedQueueLength: 0 }, fakeNode(), pipeline).report().status, "healthy");
  pipeline.figures = { activeSessions: 0, generationsInFlight: 2, cacheBytes: 0, queuedGenerations: 0 };
  assert.equal(monitor({}, fakeNode(), pipeline).report().status, "healthy");
});

test("the pipeline's figures and models are reused for pipelineReadIntervalMs, the node's figures never", () => {
  const pipeline = new FakePipeline(["m"]);
  pipeline.figures = { activeSessions: 1, generationsInFlight: 1, cacheBytes: 0, queuedGenerations: 0 };
  const node = fakeNode();
  const hb = monitor({}, node, pipeline);
  const t0 = 1_000_000;
  assert.equal(hb.report(t0).load.generations_in_flight, 1);
  pipeline.figures = { activeSessions: 0, generationsInFlight: 3, cacheBytes: 0, queuedGenerations: 64 };
  pipeline.models.push({ id: "n", contextLength: 64, vocabSize: 128 });
  node.getStats().in_flight = 7;
  const early = hb.report(t0 + 99);
  assert.equal(early.load.generations_in_flight, 1, "read 99 ms ago: reused");
  assert.deepEqual(early.models, ["m"]);
  assert.equal(early.status, "healthy");
  assert.equal(early.load.in_flight, 7, "the node's own figures are current");
  const late = hb.report(t0 + 100);
  assert.deepEqual(late.load, { connections: 3, in_flight: 7, active_sessions: 0, generations_in_flight: 3, queued_generations: 64 });
  assert.deepEqual(late.models, ["m", "n"]);
  assert.equal(late.status, "degraded");
  // 0: read on every heartbeat.
  const every = monitor({ pipelineReadIntervalMs: 0 }, node, pipeline);
  assert.equal(every.report(t0).load.queued_generations, 64);
  pipeline.figures = { activeSessions: 0, generationsInFlight: 0, cacheBytes: 0, queuedGenerations: 0 };
  assert.equal(every.report(t0).load.queued_generations, 0);
});

test("degraded when the pipeline cannot report, models still listed", () => {
  const pipeline = new FakePipeline(["m"]);
  pipeline.failStats = true;
  const report = monitor({}, fakeNode(), pipeline).report();
  assert.equal(report.status, "degraded");
  assert.deepEqual(report.models, ["m"]);
});

test("the degraded() check sees the load and decides; a throwing check means degraded", () => {
  let seen: unknown;
  const check = (load: unknown) => {
    seen = load;
    return true;
  };
  assert.equal(monitor({ degraded: check }).report().status, "degraded");
  assert.deepEqual(seen, { connections: 3, in_flight: 2, active_sessions: 0, generations_in_flight: 0, queued_generations: 0 });
  assert.equal(monitor({ degraded: () => false }).report().status, "healthy");
  const throwing = () => {
    throw new Error("boom");
  };
  assert.equal(monitor({ degraded: throwing }).report().status, "degraded");
});

test("draining wins over degraded", () => {
  assert.equal(monitor({ degraded: () => true }, fakeNode("draining")).report().status, "draining");
});

test("options are checked when the plugin is made", () => {
  assert.throws(() => heartbeatPlugin({ maxTrackedWorkers: -1 }), /maxTrackedWorkers/);
  assert.throws(() => heartbeatPlugin({ maxTrackedWorkers: 1.5 }), /maxTrackedWorkers/);
  assert.throws(() => heartbeatPlugin({ degraded: "yes" as never }), /degraded/);
  assert.equal(heartbeatPlugin().name, "heartbeat");
});
