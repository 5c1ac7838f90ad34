// Anthropic's Messages API on the example node, end to end: the official @anthropic-ai/sdk against
// the real ONNX pipeline on the bundled tiny model (random-weights gibberish: compared exactly, with
// the OpenAI chat completion's greedy text for the same chat and the pipeline's own token counts).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import type { ModelNode } from "@modelnode/core/server";
import { hashLicenseKey } from "@modelnode/plugin-auth";
import { eventuallyIdle, startNode } from "./support/node.js";

let node: ModelNode;
let base: string;
let anthropic: Anthropic;
let openai: OpenAI;

before(async () => {
  let port: number;
  ({ node, port } = await startNode({ nodeId: "e2e-anthropic" }));
  base = `http://127.0.0.1:${port}`;
  anthropic = new Anthropic({ baseURL: base, apiKey: "x", maxRetries: 0 });
  openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "x", maxRetries: 0 });
});
after(() => node.close());

/** temperature 0 (the API takes it; this SDK's types no longer list the sampling fields). */
const GREEDY = { temperature: 0 } as object;

const chat = { system: "You are terse.", messages: [{ role: "user" as const, content: "Name three colours." }, { role: "assistant" as const, content: "Red, green." }, { role: "user" as const, content: "And one more?" }] };

test("messages.create (greedy) gives the OpenAI chat completion's text and token counts for the same chat", async () => {
  const message = await anthropic.messages.create({ model: "tiny-gpt2", max_tokens: 12, ...GREEDY, ...chat });
  const completion = await openai.chat.completions.create({ model: "tiny-gpt2", max_tokens: 12, temperature: 0, messages: [{ role: "system", content: chat.system }, ...chat.messages] });
  assert.match(message.id, /^msg_/);
  assert.deepEqual([message.type, message.role, message.model], ["message", "assistant", "tiny-gpt2"]);
  assert.equal(message.content.length, 1);
  const [block] = message.content;
  assert.equal(block.type, "text");
  assert.ok((completion.choices[0].message.content ?? "").length > 0);
  assert.equal(block.type === "text" && block.text, completion.choices[0].message.content);
  assert.equal(message.stop_reason, completion.choices[0].finish_reason === "length" ? "max_tokens" : "end_turn");
  assert.equal(promptOf(message.usage), completion.usage?.prompt_tokens);
  assert.equal(message.usage.output_tokens, completion.usage?.completion_tokens);
});

test("streamed (messages.stream): Anthropic's events in order, deltas spelling the whole message's text, the final message", async () => {
  const whole = await anthropic.messages.create({ model: "tiny-gpt2", max_tokens: 10, ...GREEDY, ...chat });
  const stream = anthropic.messages.stream({ model: "tiny-gpt2", max_tokens: 10, ...GREEDY, ...chat });
  const types: string[] = [];
  let text = "";
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
  }
  const final = await stream.finalMessage();
  const deltas = types.filter((t) => t === "content_block_delta").length;
  assert.ok(deltas >= 1);
  // The SDK hands no ping on (the plugin's own tests read it on the wire, after content_block_start).
  assert.deepEqual(types, ["message_start", "content_block_start", ...Array<string>(deltas).fill("content_block_delta"), "content_block_stop", "message_delta", "message_stop"]);
  const wholeText = whole.content[0].type === "text" ? whole.content[0].text : undefined;
  assert.equal(text, wholeText);
  assert.equal(final.content[0].type === "text" && final.content[0].text, wholeText);
  assert.deepEqual([final.stop_reason, promptOf(final.usage), final.usage.output_tokens], [whole.stop_reason, promptOf(whole.usage), whole.usage.output_tokens]);

  const raw = await anthropic.messages.create({ model: "tiny-gpt2", max_tokens: 10, ...GREEDY, stream: true, ...chat });
  const rawTypes: string[] = [];
  for await (const event of raw) rawTypes.push(event.type);
  assert.deepEqual(rawTypes, types);
});

/** The whole prompt: Anthropic's input_tokens count what follows the prefix cache's part (cache_read_input_tokens). */
function promptOf(usage: { input_tokens: number; cache_read_input_tokens?: number | null }): number {
  return usage.input_tokens + (usage.cache_read_input_tokens ?? 0);
}

test("count_tokens: the chat rendered with the model's template, as many tokens as a generation's input", async () => {
  const counted = await anthropic.messages.countTokens({ model: "tiny-gpt2", ...chat });
  const message = await anthropic.messages.create({ model: "tiny-gpt2", max_tokens: 1, ...chat });
  assert.equal(counted.input_tokens, promptOf(message.usage));
  const shorter = await anthropic.messages.countTokens({ model: "tiny-gpt2", messages: [{ role: "user", content: "Hi" }] });
  assert.ok(shorter.input_tokens < counted.input_tokens);
});

test("stop_sequences: a stop string the greedy text holds ends it there, stop_reason stop_sequence naming it; max_tokens → max_tokens", async () => {
  const long = await anthropic.messages.create({ model: "tiny-gpt2", max_tokens: 24, ...GREEDY, ...chat });
  assert.equal(long.stop_reason, "max_tokens");
  assert.equal(long.usage.output_tokens, 24);
  const text = long.content[0].type === "text" ? long.content[0].text : "";
  const stop = text.slice(Math.floor(text.length / 2), Math.floor(text.length / 2) + 3);
  assert.equal(stop.length, 3);
  const stopped = await anthropic.messages.create({ model: "tiny-gpt2", max_tokens: 24, ...GREEDY, stop_sequences: ["\u0000never", stop], ...chat });
  assert.equal(stopped.stop_reason, "stop_sequence");
  assert.equal(stopped.stop_sequence, stop);
  assert.equal(stopped.content[0].type === "text" && stopped.content[0].text, text.slice(0, text.indexOf(stop)));
  const streamed = await anthropic.messages.stream({ model: "tiny-gpt2", max_tokens: 24, ...GREEDY, stop_sequences: [stop], ...chat }).finalMessage();
  assert.deepEqual([streamed.stop_reason, streamed.stop_sequence], ["stop_sequence", stop]);
});

test("errors: an unknown model → NotFoundError; a bad field → BadRequestError naming it; what the node does not serve refused by name", async () => {
  await assert.rejects(anthropic.messages.create({ model: "no-such-model", max_tokens: 4, messages: [{ role: "user", content: "Hi" }] }), (e) => {
    assert.ok(e instanceof Anthropic.NotFoundError, String(e));
    assert.match(e.message, /no-such-model/);
    return true;
  });
  await assert.rejects(anthropic.messages.create({ model: "tiny-gpt2", max_tokens: 4, ...({ temperature: 1.5 } as object), messages: [{ role: "user", content: "Hi" }] }), (e) => {
    assert.ok(e instanceof Anthropic.BadRequestError, String(e));
    assert.match(e.message, /temperature: expected a number from 0 to 1/);
    return true;
  });
  // One field of each family the node does not serve: extended thinking, prompt caching, service tiers, server tools.
  const user = [{ role: "user" as const, content: "Hi" }];
  const refused: [() => Promise<unknown>, RegExp][] = [
    [() => anthropic.messages.create({ model: "tiny-gpt2", max_tokens: 4, messages: user, thinking: { type: "enabled", budget_tokens: 1024 } }), /thinking: extended thinking is not supported/],
    [() => anthropic.messages.create({ model: "tiny-gpt2", max_tokens: 4, messages: [{ role: "user", content: [{ type: "text", text: "Hi", cache_control: { type: "ephemeral" } }] }] }), /messages\.0\.content\.0\.cache_control: prompt caching is not supported/],
    [() => anthropic.messages.create({ model: "tiny-gpt2", max_tokens: 4, messages: user, service_tier: "auto" }), /service_tier: not supported/],
    [() => anthropic.messages.create({ model: "tiny-gpt2", max_tokens: 4, messages: user, tools: [{ type: "web_search_20250305", name: "web_search" }] }), /tools\.0\.type: server tools/],
  ];
  for (const [request, message] of refused) {
    await assert.rejects(request(), (e) => {
      assert.ok(e instanceof Anthropic.BadRequestError, String(e));
      assert.match(e.message, message);
      return true;
    });
  }
  const image = { type: "image" as const, source: { type: "base64" as const, media_type: "image/png" as const, data: "iVBORw0KGgo=" } };
  await assert.rejects(anthropic.messages.create({ model: "tiny-gpt2", max_tokens: 4, messages: [{ role: "user", content: [image] }] }), (e) => {
    assert.ok(e instanceof Anthropic.BadRequestError, String(e));
    assert.match(e.message, /messages\.0\.content\.0\.type: image blocks are not supported/);
    return true;
  });
  const raw = await fetch(`${base}/v1/messages`, { method: "POST", headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" }, body: JSON.stringify({ model: "tiny-gpt2", messages: [{ role: "user", content: "Hi" }] }) });
  assert.equal(raw.status, 400);
  assert.deepEqual(await raw.json(), { type: "error", error: { type: "invalid_request_error", message: "max_tokens: required" } });
  await eventuallyIdle(node);
});

test("a client that leaves mid-stream cancels its generation", async () => {
  const cancelledBefore = (node.getStats().anthropic as { finish_reasons: Record<string, number> }).finish_reasons.cancelled;
  const controller = new AbortController();
  const stream = await anthropic.messages.create({ model: "tiny-gpt2", max_tokens: 2000, stream: true, messages: [{ role: "user", content: "Go on" }] }, { signal: controller.signal });
  let deltas = 0;
  try {
    for await (const event of stream) if (event.type === "content_block_delta" && ++deltas === 2) controller.abort();
  } catch (error) {
    assert.ok(controller.signal.aborted, String(error)); // the SDK may end the loop quietly or with its abort error
  }
  assert.ok(deltas >= 2 && deltas < 2000, `${deltas} deltas read`); // events already buffered may still come through
  await eventuallyIdle(node);
  const stats = node.getStats().anthropic as { in_flight: number; finish_reasons: Record<string, number> };
  assert.equal(stats.in_flight, 0);
  assert.equal(stats.finish_reasons.cancelled, cancelledBefore + 1);
});

test("auth required: a wrong key → AuthenticationError in Anthropic's shape; the right key served, as Bearer (the SDK) or x-api-key", async () => {
  const key = "e2e-anthropic-license-key";
  const secured = await startNode({ auth: { required: true, keyHashes: [hashLicenseKey(key)], secret: "s".repeat(32) } });
  const securedBase = `http://127.0.0.1:${secured.port}`;
  const request = { model: "tiny-gpt2", max_tokens: 2, messages: [{ role: "user" as const, content: "Hi" }] };
  try {
    const anonymous = await fetch(`${securedBase}/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) });
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: { type: string } }).error.type, "authentication_error");

    const wrong = new Anthropic({ baseURL: securedBase, apiKey: "not-the-key", maxRetries: 0 });
    await assert.rejects(wrong.messages.create(request), (e) => {
      assert.ok(e instanceof Anthropic.AuthenticationError, String(e));
      return true;
    });
    const right = new Anthropic({ baseURL: securedBase, apiKey: key, maxRetries: 0 });
    assert.equal((await right.messages.create(request)).usage.output_tokens, 2);

    const viaHeader = await fetch(`${securedBase}/v1/messages`, { method: "POST", headers: { "content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01" }, body: JSON.stringify(request) });
    assert.equal(viaHeader.status, 200);
    const wrongHeader = await fetch(`${securedBase}/v1/messages/count_tokens`, { method: "POST", headers: { "content-type": "application/json", "x-api-key": "nope" }, body: JSON.stringify({ model: "tiny-gpt2", messages: request.messages }) });
    assert.equal(wrongHeader.status, 401);
  } finally {
    await secured.node.close();
  }
});

test("anthropic.enabled: false leaves /v1/messages out (the OpenAI API stays)", async () => {
  const off = await startNode({ anthropic: { enabled: false } });
  try {
    const res = await fetch(`http://127.0.0.1:${off.port}/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.notEqual(res.status, 200);
    assert.equal(off.node.getStats().anthropic, undefined);
    assert.equal((await fetch(`http://127.0.0.1:${off.port}/v1/models`)).status, 200);
  } finally {
    await off.node.close();
  }
});
