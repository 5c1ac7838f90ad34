// The OpenAI-compatible API of the example node, end to end: the official openai SDK against the
// real ONNX pipeline on the bundled tiny model, compared with what the WebSocket inference_request
// answers for the same request (the model's text is random-weights gibberish: compared exactly).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import type { ModelNode } from "@modelnode/core/server";
import { hashLicenseKey } from "@modelnode/plugin-auth";
import { eventuallyIdle, inferenceOverWebSocket, startNode } from "./support/node.js";

let node: ModelNode;
let url: string;
let base: string;
let openai: OpenAI;

before(async () => {
  let port: number;
  ({ node, url, port } = await startNode({ nodeId: "e2e-openai" }));
  base = `http://127.0.0.1:${port}`;
  openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "x", maxRetries: 0 });
});
after(() => node.close());

const viaWebSocket = (payload: Record<string, unknown>) => inferenceOverWebSocket(url, payload);

test("GET /v1/models lists the served model", async () => {
  const page = await openai.models.list();
  assert.deepEqual(
    page.data.map((m) => [m.id, m.object, m.owned_by]),
    [["tiny-gpt2", "model", "modelnode"]],
  );
});

test("/v1/completions (greedy) gives exactly the WebSocket inference_request's text and usage, whole and streamed", async () => {
  for (const [prompt, maxTokens] of [["Hello, world!", 8], ["Once upon a time", 16]] as const) {
    const ws = await viaWebSocket({ prompt, max_tokens: maxTokens });
    const completion = await openai.completions.create({ model: "tiny-gpt2", prompt, max_tokens: maxTokens });
    assert.equal(completion.model, "tiny-gpt2");
    assert.equal(completion.choices[0].text, ws.text);
    assert.equal(completion.choices[0].finish_reason, ws.finish_reason);
    assert.deepEqual(completion.usage, {
      prompt_tokens: ws.usage.prompt_tokens,
      completion_tokens: ws.usage.completion_tokens,
      total_tokens: ws.usage.prompt_tokens + ws.usage.completion_tokens,
    });

    const stream = await openai.completions.create({ model: "tiny-gpt2", prompt, max_tokens: maxTokens, stream: true, stream_options: { include_usage: true } });
    let text = "";
    const finishes: (string | null)[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      if (chunk.choices.length === 0) usage = chunk.usage;
      for (const choice of chunk.choices) {
        text += choice.text;
        finishes.push(choice.finish_reason);
      }
    }
    assert.equal(text, ws.text);
    assert.equal(finishes[finishes.length - 1], ws.finish_reason);
    assert.ok(finishes.slice(0, -1).every((f) => f === null));
    assert.equal(usage?.completion_tokens, ws.usage.completion_tokens);
  }
});

test("sampling with a seed is reproducible and matches the WebSocket API with the same seed", async () => {
  const request = { prompt: "The weather today", max_tokens: 10, temperature: 0.9, top_p: 0.95, seed: 1234 };
  const ws = await viaWebSocket(request);
  const a = await openai.completions.create({ model: "tiny-gpt2", ...request });
  const b = await openai.completions.create({ model: "tiny-gpt2", ...request });
  assert.equal(a.choices[0].text, ws.text);
  assert.equal(b.choices[0].text, ws.text);
});

test("/v1/chat/completions answers as the WebSocket inference_request with the same messages, whole and streamed", async () => {
  const messages = [
    { role: "system" as const, content: "You are terse." },
    { role: "user" as const, content: "Say something." },
  ];
  const ws = await viaWebSocket({ messages, max_tokens: 12 });
  const chat = await openai.chat.completions.create({ model: "tiny-gpt2", messages, max_completion_tokens: 12 });
  assert.equal(chat.choices[0].message.role, "assistant");
  assert.equal(chat.choices[0].message.content, ws.text);
  assert.equal(chat.choices[0].finish_reason, ws.finish_reason);
  assert.equal(chat.usage?.prompt_tokens, ws.usage.prompt_tokens);

  // The same chat with content as text parts renders the same.
  const parts = await openai.chat.completions.create({
    model: "tiny-gpt2",
    messages: [messages[0], { role: "user", content: [{ type: "text", text: "Say something." }] }],
    max_tokens: 12,
  });
  assert.equal(parts.choices[0].message.content, ws.text);

  const stream = await openai.chat.completions.create({ model: "tiny-gpt2", messages, max_tokens: 12, stream: true });
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.equal(chunks[0].choices[0].delta.role, "assistant");
  assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), ws.text);
  assert.equal(chunks[chunks.length - 1].choices[0].finish_reason, ws.finish_reason);
});

test("stop sequences: the WebSocket API and /v1/completions stop at the same place", async () => {
  const full = await viaWebSocket({ prompt: "Hello, world!", max_tokens: 16 });
  // A stop text taken from inside the greedy output: both APIs cut there.
  const stop = full.text.slice(3, 6);
  assert.ok(stop.length > 0);
  const ws = await viaWebSocket({ prompt: "Hello, world!", max_tokens: 16, stop });
  const completion = await openai.completions.create({ model: "tiny-gpt2", prompt: "Hello, world!", max_tokens: 16, stop: [stop] });
  assert.equal(ws.finish_reason, "stop");
  assert.equal(completion.choices[0].finish_reason, "stop");
  assert.equal(completion.choices[0].text, ws.text);
});

test("errors in OpenAI's shape from the real node: unknown model (404), bad field (400), too many tokens (400)", async () => {
  await assert.rejects(openai.completions.create({ model: "gpt-4", prompt: "Hi" }), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError);
    assert.equal(e.code, "model_not_found");
    assert.equal(e.param, "model");
    return true;
  });
  await assert.rejects(openai.chat.completions.create({ model: "tiny-gpt2", messages: [{ role: "user", content: "Hi" }], n: 100 }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.equal(e.param, "n");
    return true;
  });
  // The example node's token ceiling (limits.maxTokens, 4096 by default) is the plugin's maxTokensLimit:
  // what tools send (1024, 4096) is served, and the generation ends when the model's context is full.
  for (const max_tokens of [1024, 4096]) {
    const completion = await openai.completions.create({ model: "tiny-gpt2", prompt: "Hi", max_tokens });
    assert.equal(completion.choices[0].finish_reason, "length", `max_tokens ${max_tokens}`);
  }
  await assert.rejects(openai.completions.create({ model: "tiny-gpt2", prompt: "Hi", max_tokens: 4097 }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.equal(e.param, "max_tokens");
    return true;
  });
});

test("a streaming client that goes away cancels its generation on the real pipeline", async () => {
  const stream = await openai.completions.create({ model: "tiny-gpt2", prompt: "A long story:", max_tokens: 512, stream: true });
  for await (const chunk of stream) {
    assert.ok(chunk.choices[0].text.length > 0);
    break;
  }
  await eventuallyIdle(node);
  const stats = node.getStats().openai as { in_flight: number; finish_reasons: Record<string, number> };
  assert.equal(stats.in_flight, 0);
  assert.ok(stats.finish_reasons.cancelled >= 1);
});

test("auth required: 401 in OpenAI's shape without a valid key; Authorization: Bearer <license key> is served", async () => {
  const key = "e2e-openai-license-key";
  const secured = await startNode({ auth: { required: true, keyHashes: [hashLicenseKey(key)], secret: "s".repeat(32) } });
  const securedBase = `http://127.0.0.1:${secured.port}/v1`;
  try {
    const anonymous = await fetch(`${securedBase}/models`);
    assert.equal(anonymous.status, 401);
    const body = (await anonymous.json()) as { error: { type: string; code: string; param: unknown; message: string } };
    assert.deepEqual([body.error.type, body.error.code, body.error.param], ["authentication_error", "invalid_api_key", null]);
    assert.match(body.error.message, /Authorization: Bearer/);

    const wrong = new OpenAI({ baseURL: securedBase, apiKey: "not-the-key", maxRetries: 0 });
    await assert.rejects(wrong.completions.create({ model: "tiny-gpt2", prompt: "Hi", max_tokens: 2 }), (e) => {
      assert.ok(e instanceof OpenAI.AuthenticationError, String(e));
      assert.equal(e.code, "invalid_api_key");
      return true;
    });

    const right = new OpenAI({ baseURL: securedBase, apiKey: key, maxRetries: 0 });
    const completion = await right.completions.create({ model: "tiny-gpt2", prompt: "Hi", max_tokens: 2 });
    assert.equal(completion.usage?.completion_tokens, 2);
    assert.deepEqual((await right.models.list()).data.map((m) => m.id), ["tiny-gpt2"]);
  } finally {
    await secured.node.close();
  }
});

test("openai.enabled: false leaves the /v1 routes out", async () => {
  const off = await startNode({ openai: { enabled: false } });
  try {
    const res = await fetch(`http://127.0.0.1:${off.port}/v1/models`);
    assert.notEqual(res.status, 200);
    assert.equal(off.node.getStats().openai, undefined);
  } finally {
    await off.node.close();
  }
});
