// The example node's AsyncAPI document describes both directions: it validates with the official
// parser, and what the node really sends over its WebSocket (heartbeat_ack, authentication_response,
// inference_chunk, inference_response, inference_cancel_response, list_models_response, errors,
// legacy replies and legacy errors) validates against the reply messages it documents for each
// request, with the document's own JSON Schemas. Each frame is also held to the handlers' zod
// declarations (TestClient's checkReplies).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import asyncapiParser from "@asyncapi/parser";
import { buildModel } from "@modelnode/model-builder";
import { hashLicenseKey } from "@modelnode/plugin-auth";
import { header, TestClient } from "@modelnode/testing";
import { documentCheck, type DocumentCheck } from "./support/asyncapi.js";
import { startNode } from "./support/node.js";
import { REPO_ROOT, TINY_MODEL_DIR } from "./support/paths.js";

const KEY = "asyncapi-e2e-license-key";

/** The node's /asyncapi.json, once the official parser has found no error in it. */
async function servedDocument(port: number): Promise<Record<string, any>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/asyncapi.json`)).text();
  const { document, diagnostics } = await new asyncapiParser.Parser().parse(text);
  const errors = diagnostics.filter((d) => d.severity === asyncapiParser.DiagnosticSeverity.Error);
  assert.deepEqual(errors.map((d) => `${d.code}: ${d.message} at ${d.path.join("/")}`), [], "the served document is valid AsyncAPI 3.0");
  assert.ok(document);
  return JSON.parse(text);
}

/** A client whose every frame is checked against the document as a reply to the last request sent (and against the zod declarations). */
function checked(client: TestClient, check: DocumentCheck) {
  return {
    async request(type: string, message: Record<string, unknown>) {
      client.send(message);
      return this.next(type);
    },
    async next(type: string) {
      const frame = await client.next(60_000);
      check.check(type, frame);
      return frame;
    },
  };
}

test("every reply the node sends, in both formats, is a documented reply and validates against the document's schema", async (t) => {
  // ~0.1 s a model run: a streamed generation is surely still running when its cancel arrives.
  const slow = join(REPO_ROOT, "models", "slow-tiny-gpt2");
  buildModel({ out: slow, model: "slow-tiny-gpt2", ifMissing: true });
  const { node, url, port } = await startNode({
    models: { "tiny-gpt2": TINY_MODEL_DIR, slow },
    auth: { required: true, keyHashes: [hashLicenseKey(KEY)] },
    limits: { maxTokens: 1000 },
  });
  t.after(() => node.close());
  const doc = await servedDocument(port);
  const check = documentCheck(doc);
  const ws = await TestClient.connect(url, { checkReplies: node });
  t.after(() => ws.close());
  const client = checked(ws, check);

  const ack = await client.request("heartbeat", { header: header("heartbeat"), worker_id: "w-1" });
  assert.equal(ack.header.message_type, "heartbeat_ack");
  assert.deepEqual(ack.models, ["tiny-gpt2", "slow"]);

  // Not authenticated yet: the guard's error.
  const refused = await client.request("inference_request", { header: header("inference_request"), model_id: "tiny-gpt2", prompt: "Hi" });
  assert.equal(refused.code, "UNAUTHENTICATED");
  const wrong = await client.request("authentication", { header: header("authentication"), license_key: "not-the-key" });
  assert.deepEqual([wrong.authenticated, typeof wrong.attempts_remaining], [false, "number"]);
  const right = await client.request("authentication", { header: header("authentication"), license_key: KEY });
  assert.deepEqual([right.authenticated, typeof right.license_hash], [true, "string"]);

  const listed = await client.request("list_models", { header: header("list_models") });
  assert.deepEqual(listed.models.map((m: any) => m.id), ["tiny-gpt2", "slow"]);

  const whole = await client.request("inference_request", { header: header("inference_request"), model_id: "tiny-gpt2", prompt: "Hello", max_tokens: 3 });
  assert.equal(whole.header.message_type, "inference_response");

  // A stream, cancelled: chunks, the cancel's reply, the final inference_response.
  ws.send({ header: header("inference_request", "story"), model_id: "slow", prompt: "A long story:", max_tokens: 1000, stream: true });
  const first = await client.next("inference_request");
  assert.equal(first.header.message_type, "inference_chunk");
  ws.send({ header: header("inference_cancel", "stop-it"), target_message_id: "story" });
  let final: any;
  let cancelled: any;
  while (!final || !cancelled) {
    const frame = await ws.next(60_000);
    check.check(frame.header.correlation_id === "stop-it" ? "inference_cancel" : "inference_request", frame);
    if (frame.header.correlation_id === "stop-it") cancelled = frame;
    else if (frame.header.message_type !== "inference_chunk") final = frame;
  }
  assert.equal(cancelled.header.message_type, "inference_cancel_response");
  assert.equal(final.finish_reason, "cancelled");

  // Errors, from core and from handlers: each request type documents them.
  const gone = await client.request("inference_cancel", { header: header("inference_cancel"), target_message_id: "story" });
  assert.equal(gone.code, "REQUEST_NOT_FOUND");
  const invalid = await client.request("inference_request", { header: header("inference_request"), model_id: "tiny-gpt2", prompt: "Hi", max_tokens: "3" });
  assert.equal(invalid.code, "VALIDATION_FAILED");

  // The legacy format: a step, then a step out of order.
  const step = await client.request("legacy", { session_id: "s-1", step: 0, input_tensors: { input_ids: "Hello" } });
  assert.equal(typeof step.output_tensors.is_eos, "boolean");
  const outOfOrder = await client.request("legacy", { session_id: "s-1", step: 5, input_tensors: { input_ids: [1] } });
  assert.equal(outOfOrder.error.code, "STEP_OUT_OF_ORDER");

  assert.deepEqual(
    [...check.seen].sort(),
    [
      "authentication_response",
      "error",
      "heartbeat_ack",
      "inference_cancel_response",
      "inference_chunk",
      "inference_response",
      "legacy_error",
      "legacy_reply",
      "list_models_response",
    ],
    "every kind of reply was sent and checked",
  );
  assert.deepEqual(ws.violations, [], "and each was as the handlers declare");
});

test("the document's schemas refuse frames that are not as documented", async (t) => {
  const { node, url, port } = await startNode({});
  t.after(() => node.close());
  const check = documentCheck(await servedDocument(port));
  const client = await TestClient.connect(url);
  t.after(() => client.close());
  const ack = await client.call("heartbeat", { worker_id: "w" });
  const listed = await client.call("list_models");
  client.send({ header: header("inference_request"), model_id: "tiny-gpt2", prompt: "Hi", max_tokens: 2, stream: true });
  const { chunks, final } = await client.untilFinal();
  const error = await client.call("heartbeat", { worker_id: "" });
  assert.equal(error.code, "VALIDATION_FAILED");
  const legacy = await client.request({ session_id: "s", step: 0, input_tensors: { input_ids: "Hi" } });
  const legacyError = await client.request({ session_id: "s", step: 7, input_tensors: { input_ids: [1] } });

  // As sent, each is as documented.
  for (const [type, frame] of [["heartbeat", ack], ["list_models", listed], ...chunks.map((c) => ["inference_request", c]), ["inference_request", final], ["heartbeat", error], ["legacy", legacy], ["legacy", legacyError]]) {
    assert.deepEqual(check.problems(type, frame), [], `${type}: ${JSON.stringify(frame)}`);
  }
  assert.ok(chunks.length > 0);
  const problems = (type: string, frame: unknown) => check.problems(type, frame).join("\n");
  assert.match(problems("heartbeat", { ...ack, status: "sleepy" }), /heartbeat_ack: \/status must be equal to one of the allowed values/);
  assert.match(problems("heartbeat", { ...ack, load: { ...ack.load, connections: -1 } }), /\/load\/connections must be >= 0/);
  assert.match(problems("heartbeat", { ...ack, header: { ...ack.header, correlation_id: undefined } }), /must have required property 'correlation_id'/);
  assert.match(problems("list_models", { ...listed, models: [{ id: "x" }] }), /\/models\/0 must have required property 'context_length'/);
  assert.match(problems("inference_request", { ...chunks[0], index: 0.5 }), /inference_chunk: \/index must be integer/);
  assert.match(problems("inference_request", { ...final, finish_reason: "done" }), /inference_response: \/finish_reason/);
  assert.match(problems("heartbeat", { ...error, code: "lower case" }), /error: \/code must match pattern/);
  assert.match(problems("legacy", { ...legacy, output_tensors: { ...legacy.output_tensors, is_eos: "no" } }), /legacy_reply: \/output_tensors\/is_eos must be boolean/);
  assert.match(problems("legacy", { ...legacyError, error: { message: "no code" } }), /legacy_error: \/error must have required property 'code'/);
  // A reply type the request does not document.
  assert.match(problems("heartbeat", { ...final }), /"inference_response" is not among the documented replies to "heartbeat" \(heartbeat_ack, error\)/);
});
