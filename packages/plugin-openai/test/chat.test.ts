/** POST /v1/chat/completions through the official openai SDK, on a FakePipeline (which renders chats as "role: content" lines). */
import { test } from "node:test";
import assert from "node:assert/strict";
import type OpenAI from "openai";
import { FakePipeline } from "@modelnode/testing";
import { serve } from "./support.js";

test("a chat completion: the assistant's message, finish_reason, usage; messages reach the pipeline as a chat", async () => {
  const { client, pipeline, close } = await serve();
  try {
    const messages = [
      { role: "system" as const, content: "Be brief." },
      { role: "user" as const, content: "Hi" },
    ];
    const chat = await client.chat.completions.create({ model: "fake", messages, max_tokens: 2 });
    assert.match(chat.id, /^chatcmpl-[0-9a-f]{24}$/);
    assert.equal(chat.object, "chat.completion");
    assert.equal(chat.model, "fake");
    assert.deepEqual(chat.choices, [
      { index: 0, message: { role: "assistant", content: "w0 w1 ", refusal: null }, logprobs: null, finish_reason: "length" },
    ]);
    const promptTokens = FakePipeline.promptOf({ messages }).length;
    assert.deepEqual(chat.usage, { prompt_tokens: promptTokens, completion_tokens: 2, total_tokens: promptTokens + 2 });
    const { signal, ...request } = pipeline.requests[0];
    assert.ok(signal instanceof AbortSignal);
    assert.deepEqual(request, { modelId: "fake", messages, maxTokens: 2 });
  } finally {
    await close();
  }
});

test("content as text parts (joined with newlines), developer as system, assistant turns, max_completion_tokens", async () => {
  const { client, pipeline, close } = await serve({}, { pipeline: new FakePipeline([{ id: "fake", contextLength: 1024, vocabSize: 128 }]) });
  try {
    await client.chat.completions.create({
      model: "fake",
      max_completion_tokens: 3,
      stop: ["w2"],
      messages: [
        { role: "developer", content: [{ type: "text", text: "Rule one." }, { type: "text", text: "Rule two." }] },
        { role: "user", content: "Hi" },
        { role: "assistant", content: null },
        { role: "assistant", content: "Hello.", name: "bot" },
        { role: "user", content: [{ type: "text", text: "Again" }] },
      ],
    });
    assert.deepEqual(pipeline.requests[0].messages, [
      { role: "system", content: "Rule one.\nRule two." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "" },
      { role: "assistant", content: "Hello." },
      { role: "user", content: "Again" },
    ]);
    assert.equal(pipeline.requests[0].maxTokens, 3);
    assert.deepEqual(pipeline.requests[0].stop, ["w2"]);

    // The same value in both is fine; max_tokens alone works too.
    await client.chat.completions.create({ model: "fake", messages: [{ role: "user", content: "x" }], max_tokens: 5, max_completion_tokens: 5 });
    assert.equal(pipeline.requests[1].maxTokens, 5);
  } finally {
    await close();
  }
});

test("stream: true → chat.completion.chunk objects: the role first, content deltas, finish_reason last, usage when asked", async () => {
  const { client, close } = await serve();
  try {
    const stream = await client.chat.completions.create({
      model: "fake",
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.id === chunks[0].id && c.model === "fake"));
    assert.match(chunks[0].id, /^chatcmpl-/);
    assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
    const content = chunks.slice(1, -2).map((c) => c.choices[0].delta.content);
    assert.deepEqual(content, ["w0 ", "w1 ", "w2 "]);
    const finish = chunks[chunks.length - 2];
    assert.deepEqual(finish.choices, [{ index: 0, delta: {}, logprobs: null, finish_reason: "length" }]);
    const usage = chunks[chunks.length - 1];
    assert.deepEqual(usage.choices, []);
    assert.equal(usage.usage?.completion_tokens, 3);
    assert.equal(usage.usage?.total_tokens, usage.usage!.prompt_tokens + 3);
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null));
    assert.deepEqual(chunks.slice(0, -1).map((c) => c.choices[0].finish_reason), [null, null, null, null, "length"]);

    // A stop sequence in a stream: the chunk that would cross it is not sent; finish_reason "stop".
    const stopped = await client.chat.completions.create({ model: "fake", messages: [{ role: "user", content: "Hi" }], stop: "w1", stream: true });
    const parts: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stopped) parts.push(chunk);
    assert.deepEqual(parts.map((c) => c.choices[0].delta.content ?? null), ["", "w0 ", null]);
    assert.equal(parts[parts.length - 1].choices[0].finish_reason, "stop");
  } finally {
    await close();
  }
});
