/** GET /v1/models and POST /v1/completions through the official openai SDK, on a FakePipeline. */
import { test } from "node:test";
import assert from "node:assert/strict";
import type OpenAI from "openai";
import { serve } from "./support.js";

test("GET /v1/models/{model} retrieves one model; an unknown one is NotFoundError", async () => {
  const { client, close } = await serve({ ownedBy: "acme" });
  try {
    const model = await client.models.retrieve("other");
    assert.deepEqual({ id: model.id, object: model.object, owned_by: model.owned_by }, { id: "other", object: "model", owned_by: "acme" });
    await assert.rejects(client.models.retrieve("nope"), (error: { status?: number }) => error.status === 404);
  } finally {
    await close();
  }
});

test("GET /v1/models lists the pipeline's models in OpenAI's list shape", async () => {
  const before = Math.floor(Date.now() / 1000);
  const { client, close } = await serve({ ownedBy: "acme" });
  try {
    const page = await client.models.list();
    assert.deepEqual(
      page.data.map((m) => ({ id: m.id, object: m.object, owned_by: m.owned_by })),
      [
        { id: "fake", object: "model", owned_by: "acme" },
        { id: "other", object: "model", owned_by: "acme" },
      ],
    );
    for (const m of page.data) {
      assert.ok(Number.isInteger(m.created) && m.created >= before && m.created <= Date.now() / 1000, "created: when the node started, in unix seconds");
    }
  } finally {
    await close();
  }
});

test("a completion: text, finish_reason, usage, ids, with the inference plugin's defaults reaching the pipeline", async () => {
  const { client, pipeline, close } = await serve();
  try {
    const before = Math.floor(Date.now() / 1000);
    const completion = await client.completions.create({ model: "fake", prompt: "Hello", max_tokens: 3 });
    assert.match(completion.id, /^cmpl-[0-9a-f]{24}$/);
    assert.equal(completion.object, "text_completion");
    assert.equal(completion.model, "fake");
    assert.ok(completion.created >= before && completion.created <= Math.floor(Date.now() / 1000));
    assert.deepEqual(completion.choices, [{ text: "w0 w1 w2 ", index: 0, logprobs: null, finish_reason: "length" }]);
    assert.deepEqual(completion.usage, { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });

    const { signal, ...request } = pipeline.requests[0];
    assert.ok(signal instanceof AbortSignal, "the request's signal goes to the pipeline");
    assert.deepEqual(request, { modelId: "fake", prompt: "Hello", maxTokens: 3 });

    await client.completions.create({ model: "fake", prompt: "Hi" });
    const { signal: _s, ...defaults } = pipeline.requests[1];
    assert.deepEqual(defaults, { modelId: "fake", prompt: "Hi", maxTokens: 64 });
  } finally {
    await close();
  }
});

test("sampling fields reach the pipeline; stop (string or list) ends with finish_reason stop; nulls mean 'not given'", async () => {
  const { client, pipeline, close } = await serve({ defaults: { maxTokens: 8, temperature: 0.25 } });
  try {
    const stopped = await client.completions.create({ model: "fake", prompt: "p", temperature: 0.5, top_p: 0.9, seed: 42, stop: "w2", user: "someone" });
    assert.equal(stopped.choices[0].text, "w0 w1 ");
    assert.equal(stopped.choices[0].finish_reason, "stop");
    const { signal: _1, ...first } = pipeline.requests[0];
    assert.deepEqual(first, { modelId: "fake", prompt: "p", maxTokens: 8, temperature: 0.5, topP: 0.9, seed: 42, stop: ["w2"] });

    const listed = await client.completions.create({ model: "other", prompt: ["p"], max_tokens: 10, stop: ["w9", "w1"] });
    assert.equal(listed.choices[0].text, "w0 ");
    assert.deepEqual(pipeline.requests[1].stop, ["w9", "w1"]);
    assert.equal(pipeline.requests[1].prompt, "p", "a one-prompt array is that prompt");

    const nulls = await client.completions.create({
      model: "fake",
      prompt: "p",
      max_tokens: null,
      temperature: null,
      top_p: null,
      seed: null,
      stop: null,
      n: 1,
      best_of: 1,
      echo: false,
      logprobs: null,
      presence_penalty: null,
      frequency_penalty: null,
      logit_bias: null,
      min_p: null,
      repetition_penalty: null,
      stream: null,
    } as never);
    assert.equal(nulls.choices[0].finish_reason, "length");
    const { signal: _3, ...third } = pipeline.requests[2];
    assert.deepEqual(third, { modelId: "fake", prompt: "p", maxTokens: 8, temperature: 0.25 });

    await client.completions.create({
      model: "fake",
      prompt: "p",
      presence_penalty: 0.5,
      frequency_penalty: -0.25,
      logit_bias: { "7": -100, "12": 2.5 },
      min_p: 0.05,
      repetition_penalty: 1.1,
      logprobs: 2,
    } as never);
    const { signal: _4, ...fourth } = pipeline.requests[3];
    assert.deepEqual(fourth, {
      modelId: "fake",
      prompt: "p",
      maxTokens: 8,
      temperature: 0.25,
      minP: 0.05,
      presencePenalty: 0.5,
      frequencyPenalty: -0.25,
      repetitionPenalty: 1.1,
      logitBias: { 7: -100, 12: 2.5 },
      logprobs: 2,
    });

    // top_k is not OpenAI's, but a common extension.
    await client.completions.create({ model: "fake", prompt: "p", top_k: 5 } as never);
    assert.equal(pipeline.requests[4].topK, 5);
  } finally {
    await close();
  }
});

test("stream: true → text_completion chunks joining to the text, the last with finish_reason, then [DONE]", async () => {
  const { client, close, node } = await serve();
  try {
    const stream = await client.completions.create({ model: "fake", prompt: "Hello", max_tokens: 4, stream: true });
    const chunks: OpenAI.Completion[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.deepEqual(chunks.map((c) => c.choices[0].text), ["w0 ", "w1 ", "w2 ", "w3 ", ""]);
    assert.deepEqual(chunks.map((c) => c.choices[0].finish_reason), [null, null, null, null, "length"]);
    assert.ok(chunks.every((c) => c.object === "text_completion" && c.model === "fake" && c.id === chunks[0].id));
    assert.match(chunks[0].id, /^cmpl-/);
    assert.ok(chunks.every((c) => !("usage" in c)), "no usage unless stream_options.include_usage");

    const withUsage = await client.completions.create({
      model: "fake",
      prompt: "Hello",
      max_tokens: 2,
      stream: true,
      stream_options: { include_usage: true },
    });
    const all: OpenAI.Completion[] = [];
    for await (const chunk of withUsage) all.push(chunk);
    const last = all[all.length - 1];
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });
    assert.ok(all.slice(0, -1).every((c) => c.usage === null), "usage: null on every other chunk, as OpenAI sends it");
    assert.equal(all[all.length - 2].choices[0].finish_reason, "length");

    const stats = node.getStats().openai as { in_flight: number; streamed_requests: number; finish_reasons: Record<string, number>; completion_tokens: number };
    assert.deepEqual(stats, { in_flight: 0, streamed_requests: 2, finish_reasons: { stop: 0, length: 2, cancelled: 0 }, completion_tokens: 6 });
  } finally {
    await close();
  }
});
