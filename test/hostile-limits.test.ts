// Every limit of the example node, tripped over real sockets: what the client sees, and that the
// node (and the offending connection, where the limit says so) carries on. See docs/operations.md.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TestClient, header, upgradeOutcome } from "@modelnode/testing";
import { eventually, eventuallyIdle, pipelineStats, sleep, startNode } from "./support/node.js";

const heartbeat = (id?: string) => ({ header: header("heartbeat", id), worker_id: "w" });
const longStream = (id: string) => ({ header: header("inference_request", id), model_id: "tiny-gpt2", prompt: "Once", max_tokens: 1000, stream: true });
const longWhole = (id: string) => ({ header: header("inference_request", id), model_id: "tiny-gpt2", prompt: "Once", max_tokens: 1000 });

/** Frames until one answers `id` with something other than a chunk. */
async function answerTo(client: TestClient, id: string): Promise<any> {
  for (;;) {
    const frame = await client.next(20_000);
    if (frame.header?.correlation_id === id && frame.header.message_type !== "inference_chunk") return frame;
  }
}

test("payload: over maxMessageBytes → PAYLOAD_TOO_LARGE and the connection lives; over maxPayloadBytes → close 1009, the node lives", async (t) => {
  const { node, url } = await startNode({ limits: { maxMessageBytes: 2000, maxPayloadBytes: 4000 } });
  t.after(() => node.close());
  const client = await TestClient.connect(url);
  const tooLarge = await client.call("heartbeat", { worker_id: "x".repeat(2500) });
  assert.equal(tooLarge.code, "PAYLOAD_TOO_LARGE");
  assert.deepEqual(tooLarge.details, { limit_bytes: 2000 });
  assert.ok(JSON.stringify(tooLarge).length < 500, "the reply does not echo the payload");
  assert.equal((await client.request(heartbeat())).header.message_type, "heartbeat_ack");

  client.send(JSON.stringify({ header: header("heartbeat"), worker_id: "x".repeat(5000) }));
  assert.equal((await client.closed).code, 1009);
  const other = await TestClient.connect(url);
  assert.equal((await other.request(heartbeat())).header.message_type, "heartbeat_ack");
  await other.close();
});

test("connections: maxConnections → 503 at the upgrade, maxConnectionsPerAddress → 429; a freed slot is reusable", async (t) => {
  const { node, url } = await startNode({ limits: { maxConnections: 3, maxConnectionsPerAddress: 2 } });
  t.after(() => node.close());
  const from = (localAddress: string) => TestClient.connect(url, { localAddress });
  const a1 = await from("127.0.0.1");
  const a2 = await from("127.0.0.1");
  assert.equal(await upgradeOutcome(url, { localAddress: "127.0.0.1" }), 429, "a third from the same address");
  const b1 = await from("127.0.0.2");
  assert.equal(await upgradeOutcome(url, { localAddress: "127.0.0.3" }), 503, "a fourth on the node");
  assert.equal(node.getStats().active_connections, 3);
  // Refused upgrades cost nothing that lasts; the accepted connections are untouched.
  assert.equal((await a1.request(heartbeat())).header.message_type, "heartbeat_ack");
  await a2.close();
  await eventually(() => node.getStats().active_connections === 2, "a2's slot to be freed");
  const a3 = await from("127.0.0.1");
  assert.equal((await a3.request(heartbeat())).header.message_type, "heartbeat_ack");
  await Promise.all([a1.close(), a3.close(), b1.close()]);
});

test("rate: past the token bucket every frame (garbage too) gets RATE_LIMITED, and the connection lives on", async (t) => {
  const { node, url } = await startNode({ limits: { messagesPerSecond: 20, messageBurst: 5 } });
  t.after(() => node.close());
  const client = await TestClient.connect(url);
  for (let i = 0; i < 8; i++) client.send(heartbeat(`hb-${i}`));
  const replies = await Promise.all(Array.from({ length: 8 }, () => client.next()));
  assert.deepEqual(replies.slice(0, 5).map((r) => r.header.message_type), Array(5).fill("heartbeat_ack"));
  for (const r of replies.slice(5)) {
    assert.equal(r.code, "RATE_LIMITED");
    assert.match(r.header.correlation_id, /^hb-[567]$/, "a rate-limited request is still correlated");
  }
  // Frames that are not messages at all spend tokens as well: a flood of garbage is a flood.
  for (let i = 0; i < 20; i++) client.send("not json");
  const garbage = await Promise.all(Array.from({ length: 20 }, () => client.next()));
  assert.ok(garbage.some((r) => r.code === "RATE_LIMITED"), JSON.stringify(garbage.map((r) => r.code)));
  assert.ok(garbage.every((r) => r.code === "RATE_LIMITED" || r.code === "INVALID_JSON"));
  // Tokens come back at the sustained rate: the same connection is served again.
  let reply;
  for (let tries = 0; tries < 100; tries++) {
    reply = await client.request(heartbeat());
    if (reply.header.message_type === "heartbeat_ack") break;
    await sleep(50);
  }
  assert.equal(reply.header.message_type, "heartbeat_ack");
  assert.ok(client.isOpen);
  await client.close();
});

test("in flight: past maxInFlightPerConnection → TOO_MANY_REQUESTS_IN_FLIGHT at once; the others run on", async (t) => {
  const { node, url } = await startNode({ limits: { maxInFlightPerConnection: 2, maxTokens: 1000 } });
  t.after(() => node.close());
  const client = await TestClient.connect(url);
  client.send(longStream("s1"));
  client.send(longStream("s2"));
  client.send(longStream("s3"));
  const refused = await answerTo(client, "s3");
  assert.equal(refused.code, "TOO_MANY_REQUESTS_IN_FLIGHT");
  assert.equal(node.getStats().in_flight, 2);
  await client.close();
  await eventuallyIdle(node);
});

test("generations: past the batch cap (maxBatchSize) and a full queue (maxQueuedGenerations) → BUSY at once, never an unbounded wait", async (t) => {
  const { node, url } = await startNode({ limits: { maxBatchSize: 1, maxQueuedGenerations: 1, maxTokens: 1000 } });
  t.after(() => node.close());
  const a = await TestClient.connect(url);
  const b = await TestClient.connect(url);
  const c = await TestClient.connect(url);
  a.send(longWhole("running"));
  await eventually(() => pipelineStats(node).generationsInFlight === 1, "the first generation to run");
  b.send(longWhole("queued"));
  await eventually(() => pipelineStats(node).queuedGenerations === 1, "the second to wait");
  const busy = await c.request(longWhole("refused"));
  assert.equal(busy.code, "BUSY");
  assert.equal(busy.header.correlation_id, "refused");
  // Leaving cancels both the running and the queued generation.
  await Promise.all([a.close(), b.close(), c.close()]);
  await eventuallyIdle(node);
});

test("legacy sessions: at maxSessions the least recently used idle one is evicted; maxCacheBytes bounds the key/value cache", async (t) => {
  // The tiny model holds 512 bytes of cache per token: room for 24 tokens.
  const { node, url } = await startNode({ limits: { maxSessions: 2, maxCacheBytes: 24 * 512 } });
  t.after(() => node.close());
  const client = await TestClient.connect(url);
  const ids = (n: number) => Array.from({ length: n }, (_, i) => 100 + i);
  const step0 = (session: string, n: number) => client.request({ session_id: session, step: 0, input_tensors: { input_ids: ids(n) } });
  assert.ok((await step0("one", 2)).output_tensors);
  assert.ok((await step0("two", 2)).output_tensors);
  assert.ok((await step0("three", 2)).output_tensors);
  assert.equal(pipelineStats(node).activeSessions, 2);
  const evicted = await client.request({ session_id: "one", step: 1, input_tensors: { input_ids: [1] } });
  assert.equal(evicted.error.code, "SESSION_NOT_FOUND");
  assert.equal(evicted.session_id, "one");

  // Cache: a 20-token session leaves no room for another 20; the idle one is evicted to make it.
  assert.ok((await step0("big-1", 20)).output_tensors);
  assert.ok((await step0("big-2", 20)).output_tensors);
  assert.ok(pipelineStats(node).cacheBytes <= 24 * 512);
  assert.equal((await client.request({ session_id: "big-1", step: 1, input_tensors: { input_ids: [1] } })).error.code, "SESSION_NOT_FOUND");
  // A generation that could not fit even in an empty cache is refused, not started.
  const tooBig = await client.call("inference_request", { model_id: "tiny-gpt2", prompt: "Hello", max_tokens: 30 });
  assert.equal(tooBig.code, "BUSY");
  await client.close();
});

test("message limits: max_tokens over limits.maxTokens, a prompt over maxPromptChars, input over maxInputTokens → VALIDATION_FAILED without echoing", async (t) => {
  const { node, url } = await startNode({ limits: { maxTokens: 8, maxPromptChars: 100, maxInputTokens: 16 } });
  t.after(() => node.close());
  const client = await TestClient.connect(url);
  const tokens = await client.call("inference_request", { model_id: "tiny-gpt2", prompt: "Hi", max_tokens: 9 });
  assert.equal(tokens.code, "VALIDATION_FAILED");
  assert.deepEqual(tokens.details.issues.map((i: any) => i.path), ["max_tokens"]);
  const prompt = await client.call("inference_request", { model_id: "tiny-gpt2", prompt: "p".repeat(5000) });
  assert.equal(prompt.code, "VALIDATION_FAILED");
  assert.ok(!JSON.stringify(prompt).includes("ppppp"), "the prompt is not echoed");
  const legacy = await client.request({ session_id: "s", step: 0, input_tensors: { input_ids: Array(17).fill(1) } });
  assert.equal(legacy.error.code, "VALIDATION_FAILED");
  await client.close();
});

// Backpressure. On loopback the kernel's socket buffers take megabytes before the node sees
// any: a client that stops reading also sends a burst of cheap requests whose error replies
// (~1 KB each) fill those buffers, as a hostile client would.
const BAD_REQUEST = JSON.stringify({
  header: header("inference_request"),
  ...{ model_id: 5, prompt: 5, max_tokens: "a", temperature: "b", top_p: "c", top_k: "d", seed: "e", stop: 5, stream: 7 },
});
const socketOf = (client: TestClient) => (client.ws as unknown as { _socket: import("node:net").Socket })._socket;

/** Sends bad requests in bursts until the node drops the connection (or 100 000 were sent); returns how many. */
async function floodUntilDropped(client: TestClient, node: { getStats(): { active_connections: number } }): Promise<number> {
  let sent = 0;
  while (node.getStats().active_connections > 0 && sent < 100_000) {
    for (let i = 0; i < 4000; i++) client.send(BAD_REQUEST);
    sent += 4000;
    await sleep(100);
  }
  return sent;
}

test("slow reader mid-stream: past sendHighWaterMark for stuckPeerTimeoutMs → disconnected, the generation cancelled, nothing left", async (t) => {
  // The tiny model writes its 1000 tokens in about a second, and the kernel's loopback buffers
  // hold all of their frames: on a loaded machine the flood can take longer than that to fill
  // them, and the scenario (a peer stuck while its stream runs) did not happen. Such a try is
  // told apart (the generation ran to its end, or was cut only after its last token) and run
  // again, up to three times.
  for (let attempt = 1; ; attempt++) {
    const { node, url } = await startNode({
      limits: { maxTokens: 1000, messagesPerSecond: 0, sendHighWaterMark: 16 * 1024, stuckPeerTimeoutMs: 300 },
    });
    try {
      const client = await TestClient.connect(url);
      client.send(longStream("slow"));
      assert.equal((await client.next()).header.message_type, "inference_chunk");
      socketOf(client).pause();
      await floodUntilDropped(client, node);

      await eventually(() => node.getStats().active_connections === 0, "the node to disconnect the stuck peer");
      await eventuallyIdle(node);
      const inference = node.getStats().inference as { finish_reasons: Record<string, number> };
      socketOf(client).resume();
      const closed = await client.closed;
      const ranToEnd = inference.finish_reasons.length === 1 || pipelineStats(node).tokensGenerated >= 1000;
      if (ranToEnd && attempt < 3) {
        t.diagnostic(`try ${attempt}: the stream ended before the flood filled the buffers; again`);
        continue;
      }
      assert.equal(inference.finish_reasons.cancelled, 1);
      assert.equal(inference.finish_reasons.length, 0, "the generation did not run to its end");
      assert.ok(pipelineStats(node).tokensGenerated < 1000);
      assert.notEqual(closed.code, 1000, "the peer was cut off, not closed politely");
      return;
    } finally {
      await node.close();
    }
  }
});

test("slow reader of plain replies: the node stops reading a peer that does not read, then disconnects it; its replies do not pile up", async (t) => {
  const { node, url } = await startNode({ limits: { messagesPerSecond: 0, sendHighWaterMark: 16 * 1024, stuckPeerTimeoutMs: 300 } });
  t.after(() => node.close());
  const client = await TestClient.connect(url);
  socketOf(client).pause();
  // Without backpressure on reads the node would go on answering (≈ 1 KB of reply held per
  // request for this one peer) until the ping timeout, 55 s later by default.
  const sent = await floodUntilDropped(client, node);
  await eventually(() => node.getStats().active_connections === 0, "the node to disconnect the peer that stopped reading");
  assert.ok(node.getStats().total_requests < sent, `the node stopped reading: it took ${node.getStats().total_requests} of ${sent}`);
  socketOf(client).resume();
  await client.closed;
  assert.ok(client.received.length < sent);
  await eventuallyIdle(node);
});
