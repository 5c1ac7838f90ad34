/** heartbeat over a real socket: the ack's fields, validation, tracking in stats, draining. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { definePlugin, MessageHandler, z } from "@modelnode/core";
import { heartbeatPlugin } from "../src/index.js";
import { pipelinePlugin } from "@modelnode/core/server";
import { FakePipeline, header, startNode, TestClient } from "./helpers.js";

test("heartbeat_ack echoes worker_id and correlates, with node id, status, uptime, load and models", async () => {
  const pipeline = new FakePipeline(["tiny-gpt2"]);
  pipeline.figures = { activeSessions: 2, generationsInFlight: 1, cacheBytes: 0 };
  // The pipeline plugin comes after heartbeat: the monitor finds PIPELINE at request time.
  // pipelineReadIntervalMs 0: the figures changed below are read by the very next heartbeat.
  const { node, url } = await startNode({ nodeId: "node-e2e", plugins: [heartbeatPlugin({ pipelineReadIntervalMs: 0 }), pipelinePlugin(pipeline)] });
  const client = await TestClient.connect(url, { checkReplies: node });
  try {
    const ack = await client.request({ header: header("heartbeat", "hb-1"), worker_id: "worker-7" });
    assert.equal(ack.header.message_type, "heartbeat_ack");
    assert.equal(ack.header.correlation_id, "hb-1");
    assert.equal(ack.header.protocol_version, "2.0");
    assert.equal(ack.worker_id, "worker-7");
    assert.equal(ack.node_id, "node-e2e");
    assert.equal(ack.status, "healthy");
    assert.equal(typeof ack.uptime_seconds, "number");
    assert.ok(ack.uptime_seconds >= 0);
    assert.deepEqual(ack.load, { connections: 1, in_flight: 1, active_sessions: 2, generations_in_flight: 1, queued_generations: 0 });
    assert.deepEqual(ack.models, ["tiny-gpt2"]);

    pipeline.figures = { ...pipeline.figures, queuedGenerations: 1 };
    assert.equal((await client.request({ header: header("heartbeat"), worker_id: "worker-7" })).status, "healthy", "a queue is normal under load");
    pipeline.figures = { ...pipeline.figures, queuedGenerations: 64 };
    assert.equal((await client.request({ header: header("heartbeat"), worker_id: "worker-7" })).status, "degraded");
  } finally {
    client.close();
    await node.close();
  }
});

test("without a pipeline the node serves no models and reports zero pipeline load", async () => {
  const { node, url } = await startNode({ plugins: [heartbeatPlugin()] });
  const client = await TestClient.connect(url, { checkReplies: node });
  try {
    const ack = await client.request({ header: header("heartbeat"), worker_id: "w" });
    assert.deepEqual(ack.models, []);
    assert.equal(ack.load.active_sessions, 0);
    assert.equal(ack.load.generations_in_flight, 0);
  } finally {
    client.close();
    await node.close();
  }
});

test("a bad worker_id gets VALIDATION_FAILED naming the field; the connection lives on", async () => {
  const { node, url } = await startNode({ plugins: [heartbeatPlugin()] });
  const client = await TestClient.connect(url, { checkReplies: node });
  try {
    for (const worker_id of [undefined, "", 42, "x".repeat(257)]) {
      const reply = await client.request({ header: header("heartbeat", "bad"), worker_id });
      assert.equal(reply.header.message_type, "error");
      assert.equal(reply.header.correlation_id, "bad");
      assert.equal(reply.code, "VALIDATION_FAILED");
      assert.equal(reply.details.issues[0].path, "worker_id");
    }
    const ok = await client.request({ header: header("heartbeat"), worker_id: "x".repeat(256) });
    assert.equal(ok.header.message_type, "heartbeat_ack");
  } finally {
    client.close();
    await node.close();
  }
});

test("workers' last-seen times and counts show in getStats() and GET /stats, bounded", async () => {
  const { node, url, port } = await startNode({ plugins: [heartbeatPlugin({ maxTrackedWorkers: 2 })] });
  const client = await TestClient.connect(url, { checkReplies: node });
  try {
    const before = Date.now();
    await client.request({ header: header("heartbeat"), worker_id: "a" });
    await client.request({ header: header("heartbeat"), worker_id: "a" });
    await client.request({ header: header("heartbeat"), worker_id: "b" });
    const stats = node.getStats() as any;
    assert.equal(stats.heartbeat.workers.a.count, 2);
    assert.equal(stats.heartbeat.workers.b.count, 1);
    assert.ok(Date.parse(stats.heartbeat.workers.a.last_seen) >= before - 1000);

    await client.request({ header: header("heartbeat"), worker_id: "c" }); // evicts a, the oldest
    const http = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as any;
    assert.deepEqual(Object.keys(http.heartbeat.workers).sort(), ["b", "c"]);
    assert.equal(http.heartbeat.tracked_workers, 2);
    assert.equal(http.heartbeat.evicted_workers, 1);
  } finally {
    client.close();
    await node.close();
  }
});

test("a degraded() check in the options shows as status degraded", async () => {
  const { node, url } = await startNode({
    plugins: [heartbeatPlugin({ degraded: (load) => load.connections >= 2 })],
  });
  const first = await TestClient.connect(url, { checkReplies: node });
  try {
    assert.equal((await first.request({ header: header("heartbeat"), worker_id: "w" })).status, "healthy");
    const second = await TestClient.connect(url, { checkReplies: node });
    assert.equal((await second.request({ header: header("heartbeat"), worker_id: "w" })).status, "degraded");
    second.close();
  } finally {
    first.close();
    await node.close();
  }
});

// A request that stays in flight until the test releases it, to hold node.close() in its drain.
let release: () => void = () => {};
let started: () => void = () => {};
@MessageHandler("hold", { schema: z.object({}), replySchema: z.object({ released: z.boolean() }) })
class HoldHandler {
  async handle() {
    started();
    await new Promise<void>((resolve) => (release = resolve));
    return { released: true };
  }
}

test("status is draining while node.close() waits for in-flight work", async () => {
  const holdPlugin = definePlugin({ name: "hold", handlers: [HoldHandler] });
  const { node, url } = await startNode({ plugins: [heartbeatPlugin(), holdPlugin] });
  const busy = await TestClient.connect(url, { checkReplies: node });
  const monitor = await TestClient.connect(url, { checkReplies: node });
  const holding = new Promise<void>((resolve) => (started = resolve));
  busy.ws.send(JSON.stringify({ header: header("hold", "hold-1") }));
  await holding;

  assert.equal((await monitor.request({ header: header("heartbeat"), worker_id: "w" })).status, "healthy");
  const closing = node.close();
  const ack = await monitor.request({ header: header("heartbeat", "during-close"), worker_id: "w" });
  assert.equal(ack.header.correlation_id, "during-close");
  assert.equal(ack.status, "draining");

  release();
  const held = await busy.next();
  assert.equal(held.released, true);
  await closing;
});
