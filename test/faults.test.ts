// Faults inside the example node — a handler or the pipeline throwing or rejecting, mid-stream
// failures, clients vanishing mid-work, peers that stop answering pings, a failing close hook —
// are each contained (a structured reply, the connection and node live on), logged once, and
// cleaned up: no request, generation, connection, timer or socket outlives them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PIPELINE, type GenerateRequest, type ModelPipeline } from "@modelnode/core";
import { TestClient, header } from "@modelnode/testing";
import { LogCapture } from "@modelnode/testing";
import { busyFigures, eventually, eventuallyIdle, pipelineStats, startNode } from "./support/node.js";
import { resourceCounts, settleResources } from "./support/resources.js";

const SECRET_DETAIL = "internal detail: /srv/models/secret-path";
const ERROR_LEVEL = 50;

/** Replaces `pipeline[method]` for its next call only. */
function failNextCall<K extends keyof ModelPipeline>(pipeline: ModelPipeline, method: K, replacement: ModelPipeline[K]): void {
  const original = pipeline[method];
  (pipeline as any)[method] = function (this: ModelPipeline, ...args: unknown[]) {
    (pipeline as any)[method] = original;
    return (replacement as (...a: unknown[]) => unknown).apply(this, args);
  };
}

const errorLines = (logs: LogCapture) => logs.parsed.filter((line) => line.level >= ERROR_LEVEL);

test("a handler or the pipeline throwing or rejecting: INTERNAL_ERROR without internals, logged once, the connection serves on", async (t) => {
  const logs = new LogCapture("info");
  const { node, url } = await startNode({}, { logger: logs.logger });
  t.after(() => node.close());
  const pipeline = node.container.resolve(PIPELINE);
  const client = await TestClient.connect(url);
  const boom = () => new Error(SECRET_DETAIL);

  const faults: [string, () => Promise<any>][] = [
    ["sync throw in a handler", () => {
      failNextCall(pipeline, "listModels", () => { throw boom(); });
      return client.call("list_models", {}, "f-1");
    }],
    ["rejected generation", () => {
      failNextCall(pipeline, "generate", async () => { throw boom(); });
      return client.call("inference_request", { model_id: "tiny-gpt2", prompt: "Hi", max_tokens: 2 }, "f-2");
    }],
    ["rejected legacy step", () => {
      failNextCall(pipeline, "step", async () => { throw boom(); });
      return client.request({ session_id: "f-3", step: 0, input_tensors: { input_ids: "Hi" } });
    }],
  ];
  for (const [what, provoke] of faults) {
    const before = errorLines(logs).length;
    const reply = await provoke();
    const error = reply.error ?? reply;
    assert.equal(error.code, "INTERNAL_ERROR", what);
    assert.ok(!JSON.stringify(reply).includes("secret-path"), `${what}: no internal detail reaches the client`);
    const logged = errorLines(logs).slice(before);
    assert.equal(logged.length, 1, `${what}: logged once`);
    assert.match(JSON.stringify(logged[0]), /secret-path/, `${what}: the log has the cause`);
    assert.equal((await client.call("heartbeat", { worker_id: "w" })).header.message_type, "heartbeat_ack", `${what}: served on`);
  }
  assert.equal((await client.call("list_models")).models.length, 1, "the pipeline works again");
  await client.close();
  await eventuallyIdle(node);
});

test("the pipeline failing mid-stream: chunks, then a correlated INTERNAL_ERROR; the generation is released", async (t) => {
  const logs = new LogCapture("info");
  const { node, url } = await startNode({}, { logger: logs.logger });
  t.after(() => node.close());
  const pipeline = node.container.resolve(PIPELINE);
  const realStream = pipeline.stream.bind(pipeline);
  let released = false;
  failNextCall(pipeline, "stream", async function* (request: GenerateRequest) {
    const inner = realStream({ ...request, maxTokens: 50 });
    try {
      let events = 0;
      for await (const event of inner) {
        yield event;
        if (++events === 3) throw new Error(SECRET_DETAIL);
      }
    } finally {
      released = true;
    }
  });
  const client = await TestClient.connect(url);
  client.send({ header: header("inference_request", "mid"), model_id: "tiny-gpt2", prompt: "Once", max_tokens: 50, stream: true });
  const { chunks, final } = await client.untilFinal();
  assert.ok(chunks.length >= 1);
  assert.equal(final.code, "INTERNAL_ERROR");
  assert.equal(final.header.correlation_id, "mid");
  assert.equal(errorLines(logs).length, 1);
  assert.ok(released);
  await eventually(() => pipelineStats(node).generationsInFlight === 0 && node.getStats().in_flight === 0, "the generation to be released");
  assert.equal((await client.call("heartbeat", { worker_id: "w" })).header.message_type, "heartbeat_ack");
  await client.close();
  await eventuallyIdle(node);
});

test("clients vanishing mid-stream, mid-generation, mid-step and while queued leave nothing behind (stats, timers, sockets, listeners)", async (t) => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on("warning", onWarning);
  t.after(() => process.off("warning", onWarning));
  const logs = new LogCapture("info");
  const { node, url } = await startNode({ limits: { maxTokens: 1000, maxBatchSize: 2 } }, { logger: logs.logger });
  t.after(() => node.close());
  // A first round warms up whatever is created once (model runs, timers of the pipeline).
  const warm = await TestClient.connect(url);
  await warm.call("inference_request", { model_id: "tiny-gpt2", prompt: "Hi", max_tokens: 2 });
  await warm.request({ session_id: "warm", step: 0, input_tensors: { input_ids: "Hi" } });
  await warm.close();
  await eventuallyIdle(node);
  const before = resourceCounts();
  assert.equal(before.TCPServerWrap, 1, `the counts see the listening socket: ${JSON.stringify(before)}`);

  for (let round = 0; round < 3; round++) {
    const clients = await Promise.all(Array.from({ length: 6 }, () => TestClient.connect(url)));
    clients.forEach((c, i) => {
      for (let k = 0; k < 3; k++) {
        c.send({ header: header("inference_request"), model_id: "tiny-gpt2", prompt: "Once", max_tokens: 1000, stream: i % 2 === 0 });
      }
      c.send({ session_id: `gone-${round}-${i}`, step: 0, input_tensors: { input_ids: "Hello there" } });
    });
    await eventually(() => pipelineStats(node).generationsInFlight === 2 && pipelineStats(node).queuedGenerations > 0, "generations running and queued");
    if (round === 0) assert.ok(resourceCounts().TCPSocketWrap >= (before.TCPSocketWrap ?? 0) + 12, "the counts see the connections");
    // Half leave abruptly (no close frame), half politely.
    clients.forEach((c, i) => (i % 2 === 0 ? c.ws.terminate() : c.ws.close()));
    await Promise.all(clients.map((c) => c.closed));
  }
  await eventuallyIdle(node);
  assert.deepEqual(busyFigures(node), { active_connections: 0, in_flight: 0, generations: 0, queued: 0, batch_rows: 0, inference_in_flight: 0 });
  assert.deepEqual(await settleResources(before), [], "no socket or timer outlives its connection");
  assert.deepEqual(warnings.map((w) => w.message), [], "no listener-leak or other process warnings");
  assert.equal(errorLines(logs).length, 0, "a client leaving is not an error");
});

test("a peer that stops answering pings is disconnected after pingTimeoutMs and its generation cancelled; logged once", async (t) => {
  const logs = new LogCapture("info");
  const { node, url } = await startNode({ pingIntervalMs: 50, pingTimeoutMs: 150, limits: { maxTokens: 1000 } }, { logger: logs.logger });
  t.after(() => node.close());
  const healthy = await TestClient.connect(url);
  const silent = await TestClient.connect(url, { autoPong: false });
  silent.send({ header: header("inference_request", "long"), model_id: "tiny-gpt2", prompt: "Once", max_tokens: 1000, stream: true });
  assert.equal((await silent.next()).header.message_type, "inference_chunk");

  assert.equal((await silent.closed).code, 1006, "terminated, no close handshake");
  await eventually(() => node.getStats().active_connections === 1, "only the healthy peer to remain");
  await eventually(() => pipelineStats(node).generationsInFlight === 0 && node.getStats().in_flight === 0, "the generation to be cancelled");
  assert.equal((node.getStats().inference as any).finish_reasons.cancelled, 1);
  assert.equal(logs.matching(/did not answer ping/).length, 1);
  // The peer that answers pings is untouched, well past the timeout.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal((await healthy.call("heartbeat", { worker_id: "w" })).header.message_type, "heartbeat_ack");
  await healthy.close();
  await eventuallyIdle(node);
});

test("a close hook failing (the pipeline's close rejects) is logged once and close() still completes", async () => {
  const logs = new LogCapture("info");
  const { node, url } = await startNode({}, { logger: logs.logger });
  const pipeline = node.container.resolve(PIPELINE);
  const realClose = pipeline.close.bind(pipeline);
  failNextCall(pipeline, "close", async () => {
    await realClose();
    throw new Error(SECRET_DETAIL);
  });
  const client = await TestClient.connect(url);
  await node.close();
  assert.equal((await client.closed).code, 1001);
  assert.equal(logs.matching(/close hook failed/).length, 1);
  assert.equal(errorLines(logs).length, 1);
  assert.equal(node.getStats().active_connections, 0);
});
