// Several URLs and resumable generations, against scripted WebSockets: each attempt takes the
// next URL (round robin); a streamed generation whose connection drops goes out again on the next
// one with the resume data its chunks carried, and the caller sees each piece once, in order.
import { beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { ConnectionLostError, ModelNodeClient, type ClientOptions, type GenerateOptions } from "../src/index.js";
import { FakeSocket, FakeWebSocket, sleep, tick } from "./fake-socket.js";

const FAST = { initialDelayMs: 1, maxDelayMs: 2 };
const URLS = ["ws://a.test", "ws://b.test"];

beforeEach(() => FakeSocket.reset());

async function opened(options: ClientOptions = {}) {
  const c = new ModelNodeClient(URLS, { WebSocket: FakeWebSocket, heartbeatIntervalMs: 0, reconnect: FAST, model: "m", ...options });
  await tick();
  const socket = FakeSocket.latest();
  socket.open();
  await tick();
  return { c, socket };
}

/** The socket of the next attempt, once its backoff has passed, opened. */
async function nextSocket(after: FakeSocket): Promise<FakeSocket> {
  for (let i = 0; i < 100 && FakeSocket.latest() === after; i++) await sleep(2);
  const socket = FakeSocket.latest();
  assert.notEqual(socket, after, "a new attempt was made");
  socket.open();
  await tick();
  return socket;
}

function chunk(socket: FakeSocket, request: any, index: number, text: string, resume: Record<string, unknown> = {}): void {
  socket.reply(request, "inference_chunk", { model_id: "m", index, text, ...resume });
}

async function reading(gen: AsyncIterable<string>): Promise<string[]> {
  const pieces: string[] = [];
  for await (const piece of gen) pieces.push(piece);
  return pieces;
}

test("several URLs: each attempt takes the next, round robin; `url` is the current one; one URL (string or URL) still works", async () => {
  const { c, socket } = await opened();
  assert.deepEqual(c.urls, URLS);
  assert.equal(socket.url, URLS[0]);
  assert.equal(c.url, URLS[0]);
  socket.drop();
  const second = await nextSocket(socket);
  assert.equal(second.url, URLS[1]);
  assert.equal(c.url, URLS[1]);
  second.drop();
  const third = await nextSocket(second);
  assert.equal(third.url, URLS[0]);
  await c.close();
  const single = new ModelNodeClient(new URL("ws://one.test/"), { WebSocket: FakeWebSocket, autoConnect: false });
  assert.deepEqual(single.urls, ["ws://one.test/"]);
  assert.equal(single.url, "ws://one.test/");
  assert.throws(() => new ModelNodeClient([], { WebSocket: FakeWebSocket }), TypeError);
});

test("a streamed generation asks for resume data; after a drop it goes out on the next URL with `resume`, and every piece is seen once, in order", async () => {
  const { c, socket } = await opened();
  const gen = c.generate({ prompt: "Hi", max_tokens: 10, seed: 3, temperature: 0.8 });
  const first = socket.last("inference_request");
  assert.equal(first.resumable, true);
  assert.equal(first.resume, undefined);
  const pieces = reading(gen);
  chunk(socket, first, 0, "Hel", { token_ids: [5, 6], delivered_chars: 3, sampler_state: "s2" });
  chunk(socket, first, 1, "lo", { token_ids: [7], delivered_chars: 5, sampler_state: "s3" });
  await tick();
  const calls = c.listModels(); // a call in flight is not resumed: it fails as before
  socket.drop();
  await assert.rejects(calls, ConnectionLostError);
  assert.equal(gen.done, false, "the generation waits for the next connection");
  const second = await nextSocket(socket);
  assert.equal(second.url, URLS[1]);
  const resumed = second.last("inference_request");
  assert.equal(resumed.header.message_id, gen.id, "the same request, under its message_id");
  assert.deepEqual({ ...resumed, header: undefined }, {
    header: undefined, model_id: "m", prompt: "Hi", max_tokens: 10, seed: 3, temperature: 0.8, stream: true, resumable: true,
    resume: { generated_ids: [5, 6, 7], delivered_chars: 5, sampler_state: "s3" },
  });
  chunk(second, resumed, 0, " wor", { token_ids: [8, 9], delivered_chars: 9 });
  chunk(second, resumed, 1, "ld", { token_ids: [10], delivered_chars: 11 });
  second.reply(resumed, "inference_response", { model_id: "m", text: "Hello world", finish_reason: "length", usage: { prompt_tokens: 1, completion_tokens: 6 } });
  assert.deepEqual(await pieces, ["Hel", "lo", " wor", "ld"]);
  assert.deepEqual(await gen, { text: "Hello world", finishReason: "length", usage: { prompt_tokens: 1, completion_tokens: 6 }, model: "m" });
  await c.close();
});

test("resumed twice: the resume data accumulates over both connections; the result's logprobs are every chunk's", async () => {
  const { c, socket } = await opened();
  const gen = c.generate({ prompt: "Hi", logprobs: true });
  const lp = (id: number) => [{ token: String(id), token_id: id, logprob: -1, bytes: [48 + id], top_logprobs: [] }];
  chunk(socket, socket.last("inference_request"), 0, "a", { token_ids: [1], delivered_chars: 1, logprobs: lp(1) });
  await tick();
  socket.drop();
  const second = await nextSocket(socket);
  const again = second.last("inference_request");
  assert.deepEqual(again.resume, { generated_ids: [1], delivered_chars: 1 });
  chunk(second, again, 0, "b", { token_ids: [2], delivered_chars: 2, logprobs: lp(2) });
  await tick();
  second.drop();
  const third = await nextSocket(second);
  assert.equal(third.url, URLS[0]);
  const last = third.last("inference_request");
  assert.deepEqual(last.resume, { generated_ids: [1, 2], delivered_chars: 2 });
  chunk(third, last, 0, "c", { token_ids: [3], delivered_chars: 3, logprobs: lp(3) });
  third.reply(last, "inference_response", { model_id: "m", text: "abc", finish_reason: "stop", usage: { prompt_tokens: 1, completion_tokens: 3 }, logprobs: lp(3) });
  const result = await gen;
  assert.equal(result.text, "abc");
  assert.deepEqual(result.logprobs, [...lp(1), ...lp(2), ...lp(3)]);
  assert.deepEqual(await reading(gen), ["a", "b", "c"]);
  await c.close();
});

test("not resumed: resumable false, stream false, tools, or a node whose chunks carry no token_ids; these fail with ConnectionLostError as before", async () => {
  const { c, socket } = await opened();
  const tools = [{ type: "function" as const, function: { name: "f" } }];
  const cases: GenerateOptions[] = [
    { prompt: "Hi", resumable: false },
    { prompt: "Hi", stream: false },
    { messages: [{ role: "user", content: "Hi" }], tools },
    { prompt: "no ids" },
  ];
  const gens = cases.map((options) => c.generate(options));
  const requests = socket.sent.filter((f) => f.header.message_type === "inference_request");
  assert.deepEqual(requests.map((r) => r.resumable), [undefined, undefined, undefined, true]);
  chunk(socket, requests[3], 0, "x"); // an older node: no resume data
  await tick();
  socket.drop();
  for (const gen of gens) await assert.rejects(gen.result, (error: unknown) => error instanceof ConnectionLostError && error.details.reason === "dropped");
  const second = await nextSocket(socket);
  assert.equal(second.sent.length, 0, "nothing was sent again");
  await c.close();
});

test("a resumed request answered by a node that ignores `resume` (chunks without token_ids) fails instead of repeating text, and is cancelled there", async () => {
  const { c, socket } = await opened();
  const gen = c.generate({ prompt: "Hi" });
  chunk(socket, socket.last("inference_request"), 0, "a", { token_ids: [1], delivered_chars: 1 });
  await tick();
  socket.drop();
  const second = await nextSocket(socket);
  chunk(second, second.last("inference_request"), 0, "a"); // started over
  await assert.rejects(gen.result, ConnectionLostError);
  assert.equal(second.last("inference_cancel")?.target_message_id, gen.id);
  assert.equal(gen.text, "a", "the repeated text never reached the caller");
  await c.close();
});

test("waiting to resume: a cancel ends it as cancelled with the text so far (nothing is sent again); close() fails it", async () => {
  const { c, socket } = await opened();
  const cancelled = c.generate({ prompt: "Hi" });
  const closed = c.generate({ prompt: "Ho" });
  const [r1, r2] = socket.sent.filter((f) => f.header.message_type === "inference_request");
  chunk(socket, r1, 0, "a", { token_ids: [1], delivered_chars: 1 });
  chunk(socket, r2, 0, "b", { token_ids: [2], delivered_chars: 1 });
  await tick();
  socket.drop();
  assert.deepEqual(c.pending, { queued: 2, inFlight: 0 });
  cancelled.cancel();
  const result = await cancelled;
  assert.equal(result.finishReason, "cancelled");
  assert.equal(result.text, "a");
  await c.close();
  await assert.rejects(closed.result, (error: unknown) => error instanceof ConnectionLostError && error.details.reason === "closed");
});

test("reconnect: false — nothing to resume on: the drop fails the generation", async () => {
  const { c, socket } = await opened({ reconnect: false });
  const gen = c.generate({ prompt: "Hi" });
  chunk(socket, socket.last("inference_request"), 0, "a", { token_ids: [1], delivered_chars: 1 });
  await tick();
  socket.drop();
  await assert.rejects(gen.result, (error: unknown) => error instanceof ConnectionLostError && error.details.reason === "dropped");
  assert.equal(c.state, "closed");
});
