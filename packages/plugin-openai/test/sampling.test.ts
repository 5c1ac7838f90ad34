/** Log probabilities in both endpoints' shapes, and n choices, through the official SDK on a FakePipeline. */
import { test } from "node:test";
import assert from "node:assert/strict";
import type OpenAI from "openai";
import { serve } from "./support.js";

const bytes = (text: string) => [...new TextEncoder().encode(text)];
const chat = { model: "fake", messages: [{ role: "user" as const, content: "Hi" }] };

test("chat logprobs: choices[].logprobs.content[] with token, logprob, bytes and top_logprobs, whole and streamed", async () => {
  const { client, pipeline, close } = await serve();
  try {
    const whole = await client.chat.completions.create({ ...chat, max_tokens: 2, logprobs: true, top_logprobs: 2 });
    assert.equal(pipeline.requests[0].logprobs, 2);
    assert.deepEqual(whole.choices[0].logprobs, {
      content: [
        { token: "w0 ", logprob: -0.1, bytes: bytes("w0 "), top_logprobs: [{ token: "w0 ", logprob: -0.1, bytes: bytes("w0 ") }, { token: "alt1", logprob: -1, bytes: bytes("alt1") }] },
        { token: "w1 ", logprob: -0.2, bytes: bytes("w1 "), top_logprobs: [{ token: "w1 ", logprob: -0.2, bytes: bytes("w1 ") }, { token: "alt1", logprob: -1, bytes: bytes("alt1") }] },
      ],
      refusal: null,
    });

    const plain = await client.chat.completions.create({ ...chat, max_tokens: 1, logprobs: true });
    assert.equal(pipeline.requests[1].logprobs, 0);
    assert.deepEqual(plain.choices[0].logprobs?.content, [{ token: "w0 ", logprob: -0.1, bytes: bytes("w0 "), top_logprobs: [] }]);
    const none = await client.chat.completions.create({ ...chat, max_tokens: 1, logprobs: false, top_logprobs: 0 });
    assert.equal(none.choices[0].logprobs, null);
    assert.equal(pipeline.requests[2].logprobs, undefined);

    const stream = await client.chat.completions.create({ ...chat, max_tokens: 3, logprobs: true, top_logprobs: 1, stream: true });
    const entries: OpenAI.Chat.ChatCompletionTokenLogprob[] = [];
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice.delta.content) assert.equal(choice.logprobs?.content?.length, 1, "each text chunk carries its tokens' logprobs");
      else assert.equal(choice.logprobs, null);
      entries.push(...(choice.logprobs?.content ?? []));
    }
    assert.deepEqual(entries.map((e) => [e.token, e.logprob, e.top_logprobs.length]), [["w0 ", -0.1, 1], ["w1 ", -0.2, 1], ["w2 ", -0.3, 1]]);
  } finally {
    await close();
  }
});

test("completions logprobs: tokens, token_logprobs, top_logprobs (the chosen token's included) and text_offset, whole and streamed", async () => {
  const { client, close } = await serve();
  try {
    const whole = await client.completions.create({ model: "fake", prompt: "p", max_tokens: 3, logprobs: 2 });
    assert.deepEqual(whole.choices[0].logprobs, {
      tokens: ["w0 ", "w1 ", "w2 "],
      token_logprobs: [-0.1, -0.2, -0.3],
      top_logprobs: [
        { "w0 ": -0.1, alt1: -1 },
        { "w1 ": -0.2, alt1: -1 },
        { "w2 ": -0.3, alt1: -1 },
      ],
      text_offset: [0, 3, 6],
    });
    const zero = await client.completions.create({ model: "fake", prompt: "p", max_tokens: 1, logprobs: 0 });
    assert.deepEqual(zero.choices[0].logprobs?.top_logprobs, [{ "w0 ": -0.1 }]);
    const none = await client.completions.create({ model: "fake", prompt: "p", max_tokens: 1 });
    assert.equal(none.choices[0].logprobs, null);

    const stream = await client.completions.create({ model: "fake", prompt: "p", max_tokens: 3, logprobs: 1, stream: true });
    const offsets: number[] = [];
    const tokens: string[] = [];
    for await (const chunk of stream) {
      offsets.push(...(chunk.choices[0].logprobs?.text_offset ?? []));
      tokens.push(...(chunk.choices[0].logprobs?.tokens ?? []));
    }
    assert.deepEqual(offsets, [0, 3, 6], "offsets run on across chunks");
    assert.deepEqual(tokens, ["w0 ", "w1 ", "w2 "]);
  } finally {
    await close();
  }
});

test("n: one choice per index, each its own generation (one choice group, seed + index); usage counts the prompt once", async () => {
  const { client, pipeline, close } = await serve();
  try {
    const completion = await client.completions.create({ model: "fake", prompt: "Hello", max_tokens: 2, n: 3, seed: 7 });
    assert.deepEqual(completion.choices.map((c) => [c.index, c.text, c.finish_reason]), [[0, "w0 w1 ", "length"], [1, "w0 w1 ", "length"], [2, "w0 w1 ", "length"]]);
    assert.deepEqual(completion.usage, { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 });
    assert.deepEqual(pipeline.requests.map((r) => [r.seed, r.choice?.index, r.choice?.group.size]), [[7, 0, 3], [8, 1, 3], [9, 2, 3]]);
    assert.equal(pipeline.requests[0].choice?.group, pipeline.requests[2].choice?.group);

    const chatN = await client.chat.completions.create({ ...chat, max_tokens: 1, n: 2, logprobs: true });
    assert.deepEqual(chatN.choices.map((c) => [c.index, c.message.content, c.logprobs?.content?.length]), [[0, "w0 ", 1], [1, "w0 ", 1]]);
    assert.equal(chatN.usage?.completion_tokens, 2);
  } finally {
    await close();
  }
});

test("n streamed: every chunk names its choice; each choice opens, runs and finishes; the usage chunk sums them", async () => {
  const { client, node, close } = await serve();
  try {
    const stream = await client.chat.completions.create({ ...chat, max_tokens: 2, n: 3, stream: true, stream_options: { include_usage: true } });
    const texts = ["", "", ""];
    const roles: number[] = [];
    const finishes: number[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      if (chunk.choices.length === 0) usage = chunk.usage;
      for (const choice of chunk.choices) {
        if (choice.delta.role) roles.push(choice.index);
        texts[choice.index] += choice.delta.content ?? "";
        if (choice.finish_reason) finishes.push(choice.index);
      }
    }
    assert.deepEqual(roles, [0, 1, 2]);
    assert.deepEqual(texts, ["w0 w1 ", "w0 w1 ", "w0 w1 "]);
    assert.deepEqual(finishes.sort(), [0, 1, 2]);
    assert.deepEqual(usage, { prompt_tokens: 20, completion_tokens: 6, total_tokens: 26 });
    const stats = node.getStats().openai as { finish_reasons: Record<string, number>; in_flight: number };
    assert.deepEqual([stats.in_flight, stats.finish_reasons.length], [0, 3]);

    const completions = await client.completions.create({ model: "fake", prompt: "p", max_tokens: 1, n: 2, stream: true });
    const indexes: number[] = [];
    for await (const chunk of completions) for (const choice of chunk.choices) if (choice.text) indexes.push(choice.index);
    assert.deepEqual(indexes.sort(), [0, 1]);
  } finally {
    await close();
  }
});
