// Work tied to a connection ends with it: a long stream stops when its socket closes, and
// connection-scoped legacy sessions are freed; global-scoped ones outlive a reconnect.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TestClient, header } from "@modelnode/testing";
import { eventually, pipelineStats, startNode } from "./support/node.js";

test("closing the socket mid-stream cancels the generation: nothing stays in flight", async () => {
  const { node, url } = await startNode({ limits: { maxTokens: 1000 } });
  const client = await TestClient.connect(url);
  client.send({ header: header("inference_request"), model_id: "tiny-gpt2", prompt: "A long story:", max_tokens: 1000, stream: true });
  const firstChunk = await client.next();
  assert.equal(firstChunk.header.message_type, "inference_chunk");
  assert.equal(pipelineStats(node).generationsInFlight, 1);
  await client.close();

  await eventually(() => pipelineStats(node).generationsInFlight === 0 && node.getStats().in_flight === 0, "the generation to end");
  const inference = node.getStats().inference as any;
  assert.equal(inference.in_flight, 0);
  assert.equal(inference.finish_reasons.cancelled, 1);
  assert.equal(inference.finish_reasons.length, 0, "the generation did not run to its end");
  assert.ok(pipelineStats(node).tokensGenerated < 1000);
  await node.close();
});

test("closing the node cancels a running generation and answers it with finish_reason cancelled", async () => {
  const { node, url } = await startNode({ limits: { maxTokens: 1000 }, shutdownTimeoutMs: 0 });
  const client = await TestClient.connect(url);
  client.send({ header: header("inference_request", "drain-1"), model_id: "tiny-gpt2", prompt: "A long story:", max_tokens: 1000, stream: true });
  await client.next();
  const closing = node.close();
  let frame = await client.next();
  while (frame.header.message_type === "inference_chunk") frame = await client.next();
  assert.equal(frame.header.correlation_id, "drain-1");
  assert.equal(frame.finish_reason, "cancelled");
  await closing;
  assert.equal((await client.closed).code, 1001);
});

test("connection-scoped legacy sessions are freed when their connection closes", async () => {
  const { node, url } = await startNode({ legacy: { sessionScope: "connection" } });
  const a = await TestClient.connect(url);
  const b = await TestClient.connect(url);
  await a.request({ session_id: "mine", step: 0, input_tensors: { input_ids: "Hello" } });
  await b.request({ session_id: "mine", step: 0, input_tensors: { input_ids: "Hello" } });
  assert.equal(pipelineStats(node).activeSessions, 2);
  await a.close();
  await eventually(() => pipelineStats(node).activeSessions === 1, "A's session to be freed");
  // B's session of the same name is untouched; a new connection cannot reach either.
  assert.equal((await b.request({ session_id: "mine", step: 1, input_tensors: { input_ids: [1] } })).step, 1);
  const c = await TestClient.connect(url);
  const lost = await c.request({ session_id: "mine", step: 2, input_tensors: { input_ids: [1] } });
  assert.equal(lost.error.code, "SESSION_NOT_FOUND");
  await b.close();
  await c.close();
  await eventually(() => pipelineStats(node).activeSessions === 0, "every session to be freed");
  await node.close();
});

test("global scope (default): a field client that reconnects continues its session", async () => {
  const { node, url } = await startNode();
  const first = await TestClient.connect(url);
  const reply = await first.request({ session_id: "field-1", step: 0, input_tensors: { input_ids: "Hello" } });
  await first.close();
  const again = await TestClient.connect(url);
  const next = await again.request({ session_id: "field-1", step: 1, input_tensors: { input_ids: [reply.output_tensors.next_token_id] } });
  assert.equal(next.output_tensors.sequence_length, reply.output_tensors.sequence_length + 1);
  await again.close();
  await node.close();
});

test("idle legacy sessions expire (limits.sessionIdleMs)", async () => {
  const { node, url } = await startNode({ limits: { sessionIdleMs: 20 } });
  const client = await TestClient.connect(url);
  await client.request({ session_id: "idle", step: 0, input_tensors: { input_ids: [1, 2] } });
  await eventually(() => pipelineStats(node).activeSessions === 0, "the idle session to expire");
  const late = await client.request({ session_id: "idle", step: 1, input_tensors: { input_ids: [3] } });
  assert.equal(late.error.code, "SESSION_NOT_FOUND");
  await client.close();
  await node.close();
});
