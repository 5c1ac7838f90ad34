/**
 * A pipeline that spreads its work over workers (a NATS gateway) reports each worker's load
 * (ModelPipeline.workerLoads): /metrics shows it per worker, and only the workers live now.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { WorkerLoad } from "@modelnode/core";
import { pipelinePlugin } from "@modelnode/core/server";
import { FakePipeline, startTestNode } from "@modelnode/testing";
import { metricsPlugin } from "../src/index.js";
import { scrape } from "./helpers.js";

class ClusterPipeline extends FakePipeline {
  loads: WorkerLoad[] = [
    { worker: "w1", inFlight: 3, capacity: 8, queued: 1, assigned: 12 },
    { worker: "w2", inFlight: 0, capacity: 4, queued: 0, assigned: 5 },
  ];
  workerLoads(): WorkerLoad[] {
    return this.loads;
  }
}

test("per-worker load, capacity, queue and assignments; a worker that left is gone from the next scrape", async () => {
  const pipeline = new ClusterPipeline();
  const { node, port } = await startTestNode({ plugins: [pipelinePlugin(pipeline), metricsPlugin()] });
  try {
    let s = await scrape(port);
    assert.equal(s.value("modelnode_worker_requests_running", { worker: "w1" }), 3);
    assert.equal(s.value("modelnode_worker_capacity", { worker: "w2" }), 4);
    assert.equal(s.value("modelnode_worker_requests_waiting", { worker: "w1" }), 1);
    assert.equal(s.value("modelnode_worker_assignments_total", { worker: "w1" }), 12);
    assert.equal(s.value("modelnode_worker_assignments_total", { worker: "w2" }), 5);
    pipeline.loads = [{ worker: "w2", inFlight: 2, capacity: 4, queued: 0, assigned: 7 }];
    s = await scrape(port);
    assert.equal(s.value("modelnode_worker_requests_running", { worker: "w1" }), undefined, "w1 left");
    assert.equal(s.value("modelnode_worker_requests_running", { worker: "w2" }), 2);
    assert.equal(s.value("modelnode_worker_assignments_total", { worker: "w2" }), 7);
  } finally {
    await node.close();
  }
});

test("a pipeline without workers shows no worker families", async () => {
  const { node, port } = await startTestNode({ plugins: [pipelinePlugin(new FakePipeline()), metricsPlugin()] });
  try {
    const s = await scrape(port);
    assert.equal(s.families.has("modelnode_worker_requests_running"), false);
    assert.equal(s.families.has("modelnode_worker_assignments_total"), false);
  } finally {
    await node.close();
  }
});
