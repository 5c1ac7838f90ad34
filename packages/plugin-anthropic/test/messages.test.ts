// POST /v1/messages and /v1/messages/count_tokens over HTTP, on FakePipeline: Anthropic's shapes,
// the stream's named events in order, errors in Anthropic's shape (before and after the headers).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { FakePipeline } from "@modelnode/testing";
import { bodyOf, serve, sseEvents, type Served } from "./support.js";

let served: Served;
before(async () => {
  served = await serve();
});
after(() => served.close());

const hello = { model: "fake", max_tokens: 3, messages: [{ role: "user", content: "Hi" }] };

test("a whole message: Anthropic's shape, the fake's text, stop_reason max_tokens at the limit, usage from the pipeline", async () => {
  const response = await served.post("/v1/messages", { ...hello, system: "Be brief." });
  assert.equal(response.status, 200);
  const message = await bodyOf(response);
  assert.match(message.id, /^msg_[0-9a-f]{24}$/);
  const promptTokens = [...FakePipeline.promptOf({ messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }] })].length;
  assert.deepEqual({ ...message, id: "" }, {
    id: "",
    type: "message",
    role: "assistant",
    content: [{ type: "text", text: "w0 w1 w2 " }],
    model: "fake",
    stop_reason: "max_tokens",
    stop_sequence: null,
    usage: { input_tokens: promptTokens, output_tokens: 3 },
  });
});

test("a stop sequence ends the text: stop_reason stop_sequence, and which one", async () => {
  const message = await bodyOf(await served.post("/v1/messages", { ...hello, max_tokens: 10, stop_sequences: ["zz", "w2"] }));
  assert.deepEqual([message.content[0].text, message.stop_reason, message.stop_sequence], ["w0 w1 ", "stop_sequence", "w2"]);
});

test("a streamed message: the named events in Anthropic's order, the deltas spelling the whole text", async () => {
  const response = await served.post("/v1/messages", { ...hello, stream: true });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
  const events = sseEvents(await response.text());
  for (const { event, data } of events) assert.equal(event, data.type);
  const names = events.map((e) => e.event);
  assert.deepEqual(names, ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
  const start = events[0].data.message as { usage: { input_tokens: number; output_tokens: number }; content: unknown[]; stop_reason: unknown };
  const promptTokens = [...FakePipeline.promptOf({ messages: [{ role: "user", content: "Hi" }] })].length;
  assert.deepEqual([start.usage, start.content, start.stop_reason], [{ input_tokens: promptTokens, output_tokens: 0 }, [], null]);
  const text = events.filter((e) => e.event === "content_block_delta").map((e) => (e.data.delta as { text: string }).text).join("");
  assert.equal(text, "w0 w1 w2 ");
  assert.deepEqual(events[7].data, { type: "message_delta", delta: { stop_reason: "max_tokens", stop_sequence: null }, usage: { input_tokens: promptTokens, output_tokens: 3 } });
});

test("count_tokens: the chat as the pipeline renders it, counted", async () => {
  const response = await served.post("/v1/messages/count_tokens", { model: "fake", system: "S", messages: [{ role: "user", content: "Hello there" }] });
  assert.equal(response.status, 200);
  const expected = await served.pipeline.countTokens("fake", FakePipeline.promptOf({ messages: [{ role: "system", content: "S" }, { role: "user", content: "Hello there" }] }));
  assert.deepEqual(await response.json(), { input_tokens: expected });
});

test("errors in Anthropic's shape with the right statuses: an unknown model, a bad field, a prompt too long", async () => {
  const unknown = await served.post("/v1/messages", { ...hello, model: "nope" });
  assert.equal(unknown.status, 404);
  const body = await bodyOf(unknown);
  assert.equal(body.type, "error");
  assert.equal(body.error.type, "not_found_error");
  assert.match(body.error.message, /nope/);

  const bad = await served.post("/v1/messages", { ...hello, temperature: 3 });
  assert.equal(bad.status, 400);
  assert.deepEqual(await bad.json(), { type: "error", error: { type: "invalid_request_error", message: "temperature: expected a number from 0 to 1" } });

  const tooLong = await served.post("/v1/messages", { ...hello, messages: [{ role: "user", content: "x".repeat(200) }], stream: true });
  assert.equal(tooLong.status, 400, "refused before the stream's headers");
  assert.equal((await bodyOf(tooLong)).error.type, "invalid_request_error");

  const notJson = await served.post("/v1/messages", "{");
  assert.equal(notJson.status, 400);
  assert.equal((await bodyOf(notJson)).type, "error");
});

test("a failure mid-stream becomes Anthropic's error event, after the text so far", async () => {
  const pipeline = new FakePipeline();
  let tokens = 0;
  pipeline.tokenDelay = async () => {
    if (++tokens === 3) throw new Error("the engine failed");
  };
  const failing = await serve({}, { pipeline });
  try {
    const events = sseEvents(await (await failing.post("/v1/messages", { ...hello, max_tokens: 8, stream: true })).text());
    assert.deepEqual(events.map((e) => e.event), ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "error"]);
    assert.deepEqual(events[5].data, { type: "error", error: { type: "api_error", message: (events[5].data.error as { message: string }).message } });
  } finally {
    await failing.close();
  }
});

test("a client that leaves mid-stream cancels its generation", async () => {
  const pipeline = new FakePipeline();
  pipeline.tokenDelay = () => new Promise((resolve) => setTimeout(resolve, 20));
  const slow = await serve({}, { pipeline });
  try {
    const controller = new AbortController();
    const response = await fetch(`${slow.base}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...hello, max_tokens: 200, stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await pipeline.ended;
    assert.equal(pipeline.requests[0].signal?.aborted, true);
    assert.equal(pipeline.generationsInFlight, 0);
  } finally {
    await slow.close();
  }
});
