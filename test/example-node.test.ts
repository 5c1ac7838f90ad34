// The example node end to end: every message type it serves, over a real socket, on the real
// ONNX pipeline with the bundled tiny model.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { ModelNode } from "@modelnode/core/server";
import { TestClient, header } from "@modelnode/testing";
import { startNode } from "./support/node.js";

let node: ModelNode;
let url: string;

before(async () => {
  ({ node, url } = await startNode({ nodeId: "e2e-node" }));
});
after(() => node.close());

test("heartbeat → heartbeat_ack echoing worker_id, with the node's id, status, load and models", async () => {
  const client = await TestClient.connect(url, { checkReplies: node });
  const ack = await client.call("heartbeat", { worker_id: "model_node_1" }, "hb-1");
  assert.equal(ack.header.message_type, "heartbeat_ack");
  assert.equal(ack.header.correlation_id, "hb-1");
  assert.equal(ack.worker_id, "model_node_1");
  assert.equal(ack.node_id, "e2e-node");
  assert.equal(ack.status, "healthy");
  assert.deepEqual(ack.models, ["tiny-gpt2"]);
  assert.equal(typeof ack.load.connections, "number");
  await client.close();
});

test("authentication with auth off: answered (an unknown key is not authenticated), other messages still served", async () => {
  const client = await TestClient.connect(url, { checkReplies: node });
  const reply = await client.call("authentication", { license_key: "not-a-key" });
  assert.equal(reply.header.message_type, "authentication_response");
  assert.equal(reply.authenticated, false);
  const models = await client.call("list_models");
  assert.equal(models.header.message_type, "list_models_response");
  await client.close();
});

test("list_models → list_models_response with the bundled model's facts", async () => {
  const client = await TestClient.connect(url, { checkReplies: node });
  const reply = await client.call("list_models", {}, "lm-1");
  assert.equal(reply.header.correlation_id, "lm-1");
  assert.equal(reply.models.length, 1);
  assert.deepEqual(
    { id: reply.models[0].id, context_length: reply.models[0].context_length, vocab_size: reply.models[0].vocab_size },
    { id: "tiny-gpt2", context_length: 1024, vocab_size: 50257 },
  );
  await client.close();
});

test("inference_request → inference_response: model_id echoed, text, finish_reason, usage", async () => {
  const client = await TestClient.connect(url, { checkReplies: node });
  const reply = await client.call("inference_request", { model_id: "tiny-gpt2", prompt: "Hello, world!", max_tokens: 8 }, "inf-1");
  assert.equal(reply.header.message_type, "inference_response");
  assert.equal(reply.header.correlation_id, "inf-1");
  assert.equal(reply.model_id, "tiny-gpt2");
  assert.equal(typeof reply.text, "string");
  assert.ok(reply.text.length > 0);
  assert.equal(reply.finish_reason, "length");
  assert.equal(reply.usage.completion_tokens, 8);
  assert.ok(reply.usage.prompt_tokens > 0);
  // Greedy by default: the same request gives the same text.
  const again = await client.call("inference_request", { model_id: "tiny-gpt2", prompt: "Hello, world!", max_tokens: 8 });
  assert.equal(again.text, reply.text);
  await client.close();
});

test("stream: true → inference_chunk frames (same correlation_id, index 0, 1, …) joining to the final text", async () => {
  const client = await TestClient.connect(url, { checkReplies: node });
  client.send({ header: header("inference_request", "stream-1"), model_id: "tiny-gpt2", prompt: "Once upon a time", max_tokens: 12, stream: true, temperature: 0.8, seed: 7 });
  const chunks: any[] = [];
  let frame = await client.next();
  while (frame.header.message_type === "inference_chunk") {
    chunks.push(frame);
    frame = await client.next();
  }
  assert.equal(frame.header.message_type, "inference_response");
  assert.equal(frame.header.correlation_id, "stream-1");
  assert.ok(chunks.length > 0);
  assert.deepEqual(chunks.map((c) => c.index), chunks.map((_, i) => i));
  assert.ok(chunks.every((c) => c.header.correlation_id === "stream-1" && c.model_id === "tiny-gpt2"));
  assert.equal(chunks.map((c) => c.text).join(""), frame.text);
  assert.equal(frame.usage.completion_tokens, 12);
  await client.close();
});

test("inference errors: strict types (VALIDATION_FAILED naming the field), MODEL_NOT_FOUND listing models", async () => {
  const client = await TestClient.connect(url, { checkReplies: node });
  const bad = await client.call("inference_request", { model_id: "tiny-gpt2", prompt: "Hi", max_tokens: "10" }, "bad-1");
  assert.equal(bad.header.message_type, "error");
  assert.equal(bad.header.correlation_id, "bad-1");
  assert.equal(bad.code, "VALIDATION_FAILED");
  assert.deepEqual(bad.details.issues.map((i: { path: string }) => i.path), ["max_tokens"]);
  const missing = await client.call("inference_request", { model_id: "test_model", prompt: "Hi" });
  assert.equal(missing.code, "MODEL_NOT_FOUND");
  assert.deepEqual(missing.details.available, ["tiny-gpt2"]);
  // The connection lives on after errors.
  assert.equal((await client.call("list_models")).header.message_type, "list_models_response");
  await client.close();
});

test("legacy: step 0 with text, step 1 with the returned token continues the session", async () => {
  const client = await TestClient.connect(url, { checkReplies: node });
  const first = await client.request({ session_id: "e2e-text", step: 0, input_tensors: { input_ids: "Hello" } });
  assert.equal(first.session_id, "e2e-text");
  assert.equal(first.step, 0);
  assert.equal(first.header, undefined, "legacy replies have no header");
  const out = first.output_tensors;
  assert.equal(typeof out.next_token_id, "number");
  assert.equal(typeof out.next_token, "string");
  assert.equal(typeof out.is_eos, "boolean");
  assert.ok(out.input_ids.length > 0);
  assert.equal(out.sequence_length, out.input_ids.length);
  const second = await client.request({ session_id: "e2e-text", step: 1, input_tensors: { input_ids: [out.next_token_id] } });
  assert.equal(second.step, 1);
  assert.deepEqual(second.output_tensors.input_ids, [out.next_token_id]);
  assert.equal(second.output_tensors.sequence_length, out.sequence_length + 1);
  await client.close();
});

test("legacy: step 0 with token ids and attention_mask; the KV-cached step equals a full recompute", async () => {
  const client = await TestClient.connect(url, { checkReplies: node });
  const ids = [15496, 11, 995];
  const first = await client.request({ session_id: "e2e-ids", step: 0, input_tensors: { input_ids: ids, attention_mask: [1, 1, 1] } });
  assert.deepEqual(first.output_tensors.input_ids, ids);
  const next = first.output_tensors.next_token_id;
  const cached = await client.request({ session_id: "e2e-ids", step: 1, input_tensors: { input_ids: [next] } });
  const recomputed = await client.request({ session_id: "e2e-ids-full", step: 0, input_tensors: { input_ids: [...ids, next] } });
  assert.equal(cached.output_tensors.next_token_id, recomputed.output_tensors.next_token_id);
  await client.close();
});

test("legacy errors come back legacy-shaped: SESSION_NOT_FOUND, STEP_OUT_OF_ORDER, VALIDATION_FAILED, INVALID_TOKENS, MODEL_NOT_FOUND", async () => {
  const client = await TestClient.connect(url, { checkReplies: node });
  const unknown = await client.request({ session_id: "never-started", step: 3, input_tensors: { input_ids: [1] } });
  assert.deepEqual(Object.keys(unknown).sort(), ["error", "session_id", "step"]);
  assert.equal(unknown.session_id, "never-started");
  assert.equal(unknown.step, 3);
  assert.equal(unknown.error.code, "SESSION_NOT_FOUND");
  await client.request({ session_id: "order", step: 0, input_tensors: { input_ids: [1, 2] } });
  const skipped = await client.request({ session_id: "order", step: 2, input_tensors: { input_ids: [3] } });
  assert.equal(skipped.error.code, "STEP_OUT_OF_ORDER");
  const typed = await client.request({ session_id: "order", step: "1", input_tensors: { input_ids: [3] } });
  assert.equal(typed.error.code, "VALIDATION_FAILED");
  assert.equal(typeof typed.error.message, "string");
  const negative = await client.request({ session_id: "order", step: 1, input_tensors: { input_ids: [-3] } });
  assert.equal(negative.error.code, "VALIDATION_FAILED");
  const tooBig = await client.request({ session_id: "order", step: 1, input_tensors: { input_ids: [50257] } });
  assert.equal(tooBig.error.code, "INVALID_TOKENS");
  const model = await client.request({ session_id: "other", step: 0, model_id: "gpt-9", input_tensors: { input_ids: [1] } });
  assert.equal(model.error.code, "MODEL_NOT_FOUND");
  // After all that, the session continues at step 1.
  assert.equal((await client.request({ session_id: "order", step: 1, input_tensors: { input_ids: [3] } })).step, 1);
  await client.close();
});

test("stats count legacy and protocol requests and carry the plugins' figures", async () => {
  const stats = node.getStats() as any;
  assert.ok(stats.legacy_requests > 0);
  assert.ok(stats.protocol_requests > 0);
  assert.equal(stats.total_requests, stats.legacy_requests + stats.protocol_requests);
  assert.equal(typeof stats.pipeline.active_sessions, "number", "pipeline figures in snake_case like the rest");
  assert.equal(stats.pipeline.activeSessions, undefined);
  // One naming convention in /stats: snake_case field names (message types and codes are data).
  const camel: string[] = [];
  const walk = (value: unknown, path: string) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return;
    for (const [key, inner] of Object.entries(value)) {
      if (/[A-Z]/.test(key) && !/\.(requests_by_type|errors_by_code|workers)$/.test(path)) camel.push(`${path}.${key}`);
      walk(inner, `${path}.${key}`);
    }
  };
  walk(JSON.parse(JSON.stringify(stats)), "stats");
  assert.deepEqual(camel, []);
  assert.ok(stats.legacy.steps > 0);
  assert.ok(stats.inference.completion_tokens > 0);
});
