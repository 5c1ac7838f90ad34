// The client's logic against a scripted WebSocket: queueing until open, correlation, streaming
// and awaiting, cancel, typed errors, drops (in-flight requests fail, never replayed), backoff,
// re-authentication before the queue goes out, the heartbeat probe, timeouts and close().
import { beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import {
  AuthenticationError,
  backoffDelay,
  ConnectionLostError,
  ModelNodeClient,
  ModelNodeError,
  randomId,
  TimeoutError,
  type ClientOptions,
  type ConnectionState,
} from "../src/index.js";
import { FakeSocket, FakeWebSocket, sleep, tick } from "./fake-socket.js";

const FAST = { initialDelayMs: 1, maxDelayMs: 2 };

function client(options: ClientOptions = {}) {
  const c = new ModelNodeClient("ws://node.test", { WebSocket: FakeWebSocket, heartbeatIntervalMs: 0, reconnect: FAST, ...options });
  const states: ConnectionState[] = [];
  c.on("statechange", (event) => states.push(event.state));
  return { c, states };
}

async function opened(options: ClientOptions = {}) {
  const made = client(options);
  await tick();
  const socket = FakeSocket.latest();
  socket.open();
  await tick();
  return { ...made, socket };
}

beforeEach(() => FakeSocket.reset());

test("connects in a microtask (listeners added after `new` see connecting), queues calls until open, then sends them in order", async () => {
  const { c, states } = client();
  assert.equal(c.state, "idle");
  const models = c.listModels();
  const ack = c.heartbeat("w-1");
  await tick();
  assert.deepEqual(states, ["connecting"]);
  const socket = FakeSocket.latest();
  assert.equal(socket.binaryType, "arraybuffer");
  assert.equal(socket.sent.length, 0);
  assert.deepEqual(c.pending, { queued: 2, inFlight: 0 });
  socket.open();
  assert.deepEqual(states, ["connecting", "open"]);
  assert.deepEqual(socket.sent.map((f) => f.header.message_type), ["list_models", "heartbeat"]);
  for (const frame of socket.sent) {
    assert.equal(frame.header.protocol_version, "2.0");
    assert.match(frame.header.message_id, /^[0-9a-f-]{36}$/);
    assert.ok(!Number.isNaN(Date.parse(frame.header.timestamp)));
  }
  assert.equal(socket.sent[1].worker_id, "w-1");
  // Replies in the other order: matched by correlation_id.
  socket.reply(socket.sent[1], "heartbeat_ack", { worker_id: "w-1", status: "healthy" });
  socket.reply(socket.sent[0], "list_models_response", { models: [{ id: "m", context_length: 8, vocab_size: 4 }] });
  assert.equal((await ack).status, "healthy");
  assert.deepEqual((await models).map((m) => m.id), ["m"]);
  assert.deepEqual(c.pending, { queued: 0, inFlight: 0 });
  await c.close();
  assert.equal(socket.closedWith?.code, 1000);
  assert.deepEqual(states, ["connecting", "open", "closed"]);
});

test("generate: pieces stream, the awaited result is the final response; sampling fields pass as the protocol names them", async () => {
  const { c, socket } = await opened({ model: "m" });
  const response_format = { type: "json_schema" as const, json_schema: { name: "n", schema: { type: "object" }, strict: true } };
  const gen = c.generate({ prompt: "Hi", max_tokens: 3, temperature: 0.5, top_p: 0.9, top_k: 4, seed: 7, stop: ["\n"], response_format });
  const request = socket.last("inference_request");
  assert.deepEqual(
    { ...request, header: undefined },
    { header: undefined, model_id: "m", prompt: "Hi", max_tokens: 3, temperature: 0.5, top_p: 0.9, top_k: 4, seed: 7, stop: ["\n"], response_format, stream: true, resumable: true },
  );
  assert.equal(request.header.message_id, gen.id);
  const pieces: string[] = [];
  const reading = (async () => {
    for await (const piece of gen) pieces.push(piece);
  })();
  socket.reply(request, "inference_chunk", { model_id: "m", index: 0, text: "a" });
  socket.reply(request, "inference_chunk", { model_id: "m", index: 1, text: "b" });
  await tick();
  assert.equal(gen.text, "ab");
  socket.reply(request, "inference_response", { model_id: "m", text: "abc", finish_reason: "length", usage: { prompt_tokens: 1, completion_tokens: 3 } });
  socket.reply(request, "inference_chunk", { model_id: "m", index: 2, text: "late" }); // ignored: the request is over
  await reading;
  assert.deepEqual(pieces, ["a", "b"]);
  assert.deepEqual(await gen, { text: "abc", finishReason: "length", usage: { prompt_tokens: 1, completion_tokens: 3 }, model: "m" });
  // A second iteration replays from the start.
  const again: string[] = [];
  for await (const piece of gen) again.push(piece);
  assert.deepEqual(again, ["a", "b"]);
  await c.close();
});

test("generate: the other sampling fields and logprobs pass as the protocol names them; the result carries the response's logprobs", async () => {
  const { c, socket } = await opened({ model: "m" });
  const options = { min_p: 0.1, presence_penalty: 0.5, frequency_penalty: 0.2, repetition_penalty: 1.1, logit_bias: { "3": -100 }, logprobs: true, top_logprobs: 2 };
  const gen = c.generate({ prompt: "Hi", ...options });
  const request = socket.last("inference_request");
  assert.deepEqual({ ...request, header: undefined }, { header: undefined, model_id: "m", prompt: "Hi", ...options, stream: true, resumable: true });
  const logprobs = [{ token: "a", token_id: 1, logprob: -0.5, bytes: [97], top_logprobs: [] }];
  socket.reply(request, "inference_response", { model_id: "m", text: "a", finish_reason: "length", usage: { prompt_tokens: 1, completion_tokens: 1 }, logprobs });
  assert.deepEqual((await gen).logprobs, logprobs);
  await c.close();
});

test("generate with stream:false yields the whole text once; messages are sent as given", async () => {
  const { c, socket } = await opened();
  const gen = c.generate({ model: "m", messages: [{ role: "user", content: "Hi" }], stream: false });
  const request = socket.last("inference_request");
  assert.equal(request.stream, false);
  assert.deepEqual(request.messages, [{ role: "user", content: "Hi" }]);
  assert.equal(request.prompt, undefined);
  socket.reply(request, "inference_response", { model_id: "m", text: "hello", finish_reason: "stop", usage: { prompt_tokens: 2, completion_tokens: 1 } });
  const pieces: string[] = [];
  for await (const piece of gen) pieces.push(piece);
  assert.deepEqual(pieces, ["hello"]);
  await c.close();
});

test("an error frame rejects with a ModelNodeError (code, message, details, correlationId); iterating throws it", async () => {
  const { c, socket } = await opened();
  const gen = c.generate({ model: "nope", prompt: "Hi" });
  const request = socket.last("inference_request");
  socket.reply(request, "error", { code: "MODEL_NOT_FOUND", message: "No model.", details: { model_id: "nope", available: ["m"] } });
  await assert.rejects(gen.result, (error: unknown) => {
    assert.ok(error instanceof ModelNodeError);
    assert.equal(error.code, "MODEL_NOT_FOUND");
    assert.equal(error.message, "No model.");
    assert.equal(error.correlationId, gen.id);
    assert.ok(error.is("MODEL_NOT_FOUND"));
    assert.deepEqual(error.details.available, ["m"]);
    return true;
  });
  await assert.rejects(async () => {
    for await (const _ of gen) assert.fail("no pieces");
  }, /No model/);
  await c.close();
});

test("cancel: before sending, the request never leaves; in flight, inference_cancel names it and the node's cancelled response ends it", async () => {
  const { c, states } = client();
  const early = new AbortController();
  const queued = c.generate({ model: "m", prompt: "Hi", signal: early.signal });
  early.abort();
  assert.deepEqual(await queued, { text: "", finishReason: "cancelled", usage: { prompt_tokens: 0, completion_tokens: 0 }, model: "m" });
  const already = c.generate({ model: "m", prompt: "Hi", signal: AbortSignal.abort() });
  assert.equal((await already).finishReason, "cancelled");
  await tick();
  const socket = FakeSocket.latest();
  socket.open();
  assert.equal(socket.sent.length, 0, "nothing was sent for the cancelled requests");
  assert.deepEqual(states, ["connecting", "open"]);

  const controller = new AbortController();
  const gen = c.generate({ model: "m", prompt: "Hi", signal: controller.signal });
  const request = socket.last("inference_request");
  socket.reply(request, "inference_chunk", { model_id: "m", index: 0, text: "x" });
  controller.abort();
  controller.abort();
  const cancels = socket.sent.filter((f) => f.header.message_type === "inference_cancel");
  assert.equal(cancels.length, 1);
  assert.equal(cancels[0].target_message_id, gen.id);
  socket.reply(cancels[0], "inference_cancel_response", { target_message_id: gen.id, cancelled: true });
  socket.reply(request, "inference_response", { model_id: "m", text: "x", finish_reason: "cancelled", usage: { prompt_tokens: 1, completion_tokens: 1 } });
  const result = await gen;
  assert.equal(result.finishReason, "cancelled");
  assert.equal(result.text, "x");
  assert.deepEqual(c.pending, { queued: 0, inFlight: 0 });
  await c.close();
});

test("breaking out of the loop cancels the generation", async () => {
  const { c, socket } = await opened();
  const gen = c.generate({ model: "m", prompt: "Hi" });
  const request = socket.last("inference_request");
  socket.reply(request, "inference_chunk", { model_id: "m", index: 0, text: "x" });
  for await (const piece of gen) {
    assert.equal(piece, "x");
    break;
  }
  assert.equal(socket.last("inference_cancel")?.target_message_id, gen.id);
  await c.close();
  assert.equal((await gen).finishReason, "cancelled", "closing before the node confirmed still ends as cancelled");
});

test("a drop fails what is in flight with ConnectionLostError (never replayed; a generation with resumable: false too); queued calls wait; backoff, then the queue goes out on the new socket", async () => {
  const { c, socket, states } = await opened();
  const inFlight = c.listModels();
  const gen = c.generate({ model: "m", prompt: "Hi", resumable: false });
  const step = c.session("s").step("Hello");
  const events: { attempt?: number; delayMs?: number; error?: ModelNodeError }[] = [];
  c.on("reconnecting", (event) => events.push({ attempt: event.attempt, delayMs: event.delayMs, error: event.error }));
  await tick(); // the step goes out (a session chains its steps)
  assert.deepEqual(c.pending, { queued: 0, inFlight: 3 });
  socket.drop(1001, "shutting down");
  for (const call of [inFlight, gen.result, step]) {
    await assert.rejects(call, (error: unknown) => {
      assert.ok(error instanceof ConnectionLostError);
      assert.equal(error.code, "CONNECTION_LOST");
      assert.equal(error.details.close_code, 1001);
      assert.equal(error.details.reason, "dropped");
      return true;
    });
  }
  assert.equal(c.state, "reconnecting");
  assert.equal(events[0].attempt, 1);
  assert.ok(events[0].delayMs! >= 0 && events[0].delayMs! < FAST.initialDelayMs + 1);
  assert.ok(events[0].error instanceof ConnectionLostError);
  const waiting = c.heartbeat();
  assert.deepEqual(c.pending, { queued: 1, inFlight: 0 });
  await sleep(10);
  const second = FakeSocket.latest();
  assert.notEqual(second, socket);
  second.drop(); // refused: another backoff
  await sleep(10);
  const third = FakeSocket.latest();
  assert.notEqual(third, second);
  assert.equal(events.length, 2);
  third.open();
  assert.deepEqual(third.sent.map((f) => f.header.message_type), ["heartbeat"]);
  assert.equal(second.sent.length + socket.sent.filter((f) => f.header?.message_type === "heartbeat").length, 0);
  third.reply(third.sent[0], "heartbeat_ack", { status: "healthy" });
  assert.equal((await waiting).status, "healthy");
  assert.deepEqual(states, ["connecting", "open", "reconnecting", "reconnecting", "open"]);
  await c.close();
});

test("after a reconnect the kept license key is sent first; queued requests go out only once it is answered", async () => {
  const { c, socket } = await opened();
  const auth = c.authenticate("key-1");
  socket.reply(socket.last("authentication"), "authentication_response", { authenticated: true, license_hash: "lh1.a" });
  assert.deepEqual(await auth, { authenticated: true, license_hash: "lh1.a" });
  assert.equal(c.licenseHash, "lh1.a");
  socket.drop();
  const models = c.listModels();
  await sleep(10);
  const next = FakeSocket.latest();
  next.open();
  assert.deepEqual(next.sent.map((f) => f.header.message_type), ["authentication"]);
  assert.equal(next.sent[0].license_key, "key-1");
  assert.equal(c.state, "reconnecting", "not open before the authentication is answered");
  next.reply(next.sent[0], "authentication_response", { authenticated: true, license_hash: "lh1.b" });
  await tick();
  assert.equal(c.state, "open");
  assert.deepEqual(next.sent.map((f) => f.header.message_type), ["authentication", "list_models"]);
  next.reply(next.sent[1], "list_models_response", { models: [] });
  assert.deepEqual(await models, []);
  assert.equal(c.licenseHash, "lh1.b");

  // A wrong key: AuthenticationError, and the key is forgotten (no re-authentication after the next drop).
  const wrong = c.authenticate("bad");
  next.reply(next.last("authentication"), "authentication_response", { authenticated: false, message: "The license key is not valid.", attempts_remaining: 4 });
  await assert.rejects(wrong, (error: unknown) => error instanceof AuthenticationError && error.code === "AUTHENTICATION_FAILED" && (error.details as any).attempts_remaining === 4);
  next.drop();
  await sleep(10);
  FakeSocket.latest().open();
  await tick();
  assert.equal(c.state, "open");
  assert.deepEqual(FakeSocket.latest().sent, []);
  await c.close();
});

test("licenseKey option authenticates every connection, the first included; a refused key is reported as an error event", async () => {
  const { c } = client({ licenseKey: "k" });
  const errors: ModelNodeError[] = [];
  c.on("error", (event) => errors.push(event.error));
  const ready = c.connect();
  await tick();
  const socket = FakeSocket.latest();
  socket.open();
  socket.reply(socket.sent[0], "authentication_response", { authenticated: false, message: "The license key is not valid.", attempts_remaining: 4 });
  await ready;
  assert.equal(errors[0].code, "AUTHENTICATION_FAILED");
  await c.close();
});

test("licenseHash option goes in every header", async () => {
  const { c, socket } = await opened({ licenseHash: "lh1.x" });
  void c.listModels().catch(() => {});
  assert.equal(socket.last("list_models").header.license_hash, "lh1.x");
  await c.close();
});

test("the heartbeat probe: answered, it repeats; unanswered past its deadline, the socket is dropped and in-flight calls fail", async () => {
  const { c, socket } = await opened({ heartbeatIntervalMs: 5, heartbeatTimeoutMs: 20, workerId: "probe" });
  await sleep(15);
  const first = socket.last("heartbeat");
  assert.equal(first.worker_id, "probe");
  socket.reply(first, "heartbeat_ack", {});
  await sleep(15);
  const second = socket.last("heartbeat");
  assert.notEqual(second.header.message_id, first.header.message_id);
  const lost = c.listModels();
  // No answer now: dead after 20 ms.
  await assert.rejects(lost, (error: unknown) => error instanceof ConnectionLostError && error.details.reason === "heartbeat_timeout");
  assert.ok(socket.terminated, "the dead socket was dropped without a closing handshake");
  assert.equal(c.state, "reconnecting");
  await c.close();
});

test("timeouts: a call past requestTimeoutMs (queue included) is TimeoutError; a generation past timeoutMs is cancelled on the node", async () => {
  const { c } = client({ requestTimeoutMs: 10 });
  await assert.rejects(c.listModels(), (error: unknown) => error instanceof TimeoutError && error.code === "TIMEOUT");
  const socket = FakeSocket.latest();
  socket.open();
  assert.equal(socket.sent.length, 0, "the timed-out call left the queue");
  const gen = c.generate({ model: "m", prompt: "Hi", timeoutMs: 10 });
  await assert.rejects(gen.result, TimeoutError);
  assert.equal(socket.last("inference_cancel").target_message_id, gen.id);
  await assert.rejects(c.listModels({ signal: AbortSignal.abort() }), { name: "AbortError" });
  await c.close();
});

test("connect timeout: an attempt that never opens is dropped and retried", async () => {
  const { c } = client({ connectTimeoutMs: 5 });
  const reconnecting = new Promise((resolve) => c.on("reconnecting", resolve));
  await tick();
  const first = FakeSocket.latest();
  await reconnecting;
  assert.ok(first.terminated);
  await c.close();
});

test("gives up after maxAttempts: closed, queued calls fail, connect() rejects", async () => {
  const { c, states } = client({ reconnect: { ...FAST, maxAttempts: 2 } });
  const ready = c.connect();
  const call = c.listModels();
  await tick();
  FakeSocket.latest().drop();
  await sleep(10);
  FakeSocket.latest().drop();
  await sleep(10);
  FakeSocket.latest().drop();
  await assert.rejects(call, (error: unknown) => error instanceof ConnectionLostError && error.details.reason === "gave_up");
  await assert.rejects(ready, ConnectionLostError);
  assert.deepEqual(states, ["connecting", "reconnecting", "reconnecting", "closed"]);
  assert.equal(FakeSocket.made.length, 3);
  await assert.rejects(c.listModels(), ConnectionLostError, "a closed client refuses at once");
});

test("reconnect: false closes on the first drop; close code 1008 (policy) closes too", async () => {
  const { c, socket } = await opened({ reconnect: false });
  socket.drop(1006);
  assert.equal(c.state, "closed");
  const other = await opened();
  other.socket.drop(1008, "too many failed authentication attempts");
  assert.equal(other.c.state, "closed");
});

test("close() fails queued and in-flight calls with ConnectionLostError (reason closed)", async () => {
  const { c, socket } = await opened();
  const call = c.listModels();
  const closing = c.close();
  await assert.rejects(call, (error: unknown) => error instanceof ConnectionLostError && error.details.reason === "closed");
  await closing;
  assert.equal(socket.closedWith?.code, 1000);
  assert.equal(await c.close(), undefined, "close() twice is fine");
});

test("legacy sessions: steps numbered from 0, one after the other; an error does not advance; errors are typed", async () => {
  const { c, socket } = await opened({ model: "m" });
  const session = c.session("s-1");
  assert.equal(session.nextStep, 0);
  const first = session.step("Hello");
  const second = session.step([5]); // waits for the first
  await tick();
  assert.equal(socket.sent.length, 1);
  assert.deepEqual(socket.sent[0], { session_id: "s-1", step: 0, input_tensors: { input_ids: "Hello" }, model_id: "m" });
  const output = { next_token_id: 5, next_token: "x", sequence_length: 2, input_ids: [1, 2], is_eos: false };
  socket.receive({ session_id: "s-1", step: 0, output_tensors: output });
  assert.deepEqual(await first, output);
  await tick();
  assert.deepEqual(socket.sent[1].input_tensors, { input_ids: [5] });
  assert.equal(socket.sent[1].step, 1);
  socket.receive({ session_id: "s-1", step: 1, error: { code: "SESSION_NOT_FOUND", message: "gone", details: { session_id: "s-1" } } });
  await assert.rejects(second, (error: unknown) => error instanceof ModelNodeError && error.code === "SESSION_NOT_FOUND" && error.sessionId === "s-1" && error.step === 1);
  assert.equal(session.nextStep, 1);
  session.reset();
  assert.equal(session.nextStep, 0);
  await c.close();
});

test("uncorrelated error frames and non-JSON frames become error events", async () => {
  const { c, socket } = await opened();
  const errors: string[] = [];
  c.on("error", (event) => errors.push(event.error.code));
  socket.receive({ header: { message_type: "error", correlation_id: null }, code: "PAYLOAD_TOO_LARGE", message: "big" });
  socket.onmessage?.({ data: "not json" });
  socket.onmessage?.({ data: new TextEncoder().encode(JSON.stringify({ header: { message_type: "error", correlation_id: null }, code: "INVALID_JSON", message: "x" })) });
  assert.deepEqual(errors, ["PAYLOAD_TOO_LARGE", "INVALID_JSON", "INVALID_JSON"]);
  await c.close();
});

test("without a WebSocket class and without a global one, the constructor says what to do", () => {
  const original = (globalThis as any).WebSocket;
  (globalThis as any).WebSocket = undefined;
  try {
    assert.throws(() => new ModelNodeClient("ws://x"), /@modelnode\/client\/node/);
  } finally {
    (globalThis as any).WebSocket = original;
  }
});

test("backoffDelay: full jitter below a doubling cap", () => {
  const policy = { initialDelayMs: 100, maxDelayMs: 1000 };
  assert.equal(backoffDelay(0, policy, () => 0), 0);
  assert.equal(backoffDelay(0, policy, () => 0.999), 99);
  assert.equal(backoffDelay(3, policy, () => 0.5), 400);
  assert.equal(backoffDelay(10, policy, () => 0.5), 500);
  assert.equal(backoffDelay(5000, policy, () => 0.999), 999);
});

test("randomId: crypto.randomUUID where there is one; else a v4 UUID from getRandomValues (browsers outside secure contexts)", () => {
  assert.match(randomId(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const original = Object.getOwnPropertyDescriptor(globalThis, "crypto")!;
  const real = globalThis.crypto;
  Object.defineProperty(globalThis, "crypto", { value: { getRandomValues: (a: Uint8Array) => real.getRandomValues(a) }, configurable: true });
  try {
    const ids = new Set(Array.from({ length: 100 }, () => randomId()));
    assert.equal(ids.size, 100);
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  } finally {
    Object.defineProperty(globalThis, "crypto", original);
  }
});
