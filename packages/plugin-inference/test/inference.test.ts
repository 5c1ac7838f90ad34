import { test } from "node:test";
import assert from "node:assert/strict";
import { inferencePlugin } from "../src/index.js";
import { pipelinePlugin } from "@modelnode/core/server";
import { FakePipeline } from "@modelnode/testing";
import { connection, nodeWith, send } from "./harness.js";

async function setup(options: Parameters<typeof inferencePlugin>[0] = {}, pipeline = new FakePipeline()) {
  const node = await nodeWith([inferencePlugin(options), pipelinePlugin(pipeline)]);
  return { node, pipeline };
}

test("inference_request → inference_response echoing model_id, with documented defaults", async () => {
  const { node, pipeline } = await setup();
  const [frame] = await send(node, "inference_request", { model_id: "fake", prompt: "Hello there", max_tokens: 3 });
  assert.deepEqual(frame, {
    type: "inference_response",
    payload: { model_id: "fake", text: "w0 w1 w2 ", finish_reason: "length", usage: { prompt_tokens: 11, completion_tokens: 3 } },
  });
  await send(node, "inference_request", { model_id: "fake", prompt: "Hi" });
  const { signal, ...request } = pipeline.requests[1];
  assert.ok(signal instanceof AbortSignal);
  assert.deepEqual(request, { modelId: "fake", prompt: "Hi", maxTokens: 64 });
  await node.close();
});

test("sampling fields reach the pipeline; a single stop string becomes a list", async () => {
  const { node, pipeline } = await setup({ defaults: { maxTokens: 8, temperature: 0.25 } });
  await send(node, "inference_request", { model_id: "other", prompt: "p", top_p: 0.9, top_k: 5, seed: 42, stop: "w3" });
  const { signal: _1, ...first } = pipeline.requests[0];
  assert.deepEqual(first, { modelId: "other", prompt: "p", maxTokens: 8, temperature: 0.25, topP: 0.9, topK: 5, seed: 42, stop: ["w3"] });
  const [frame] = await send(node, "inference_request", { model_id: "fake", prompt: "p", max_tokens: 10, temperature: 0.5, stop: ["w9", "w2"] });
  assert.equal(pipeline.requests[1].temperature, 0.5);
  assert.deepEqual(pipeline.requests[1].stop, ["w9", "w2"]);
  assert.equal(frame.payload.finish_reason, "stop");
  assert.equal(frame.payload.text, "w0 w1 ");
  await node.close();
});

test("the other sampling fields reach the pipeline; logprobs come per chunk and in the response, in the protocol's names", async () => {
  const { node, pipeline } = await setup();
  const sampling = { min_p: 0.1, presence_penalty: 0.5, frequency_penalty: -0.5, repetition_penalty: 1.2, logit_bias: { "7": -100 } };
  const [whole] = await send(node, "inference_request", { model_id: "fake", prompt: "p", max_tokens: 2, ...sampling, logprobs: true, top_logprobs: 2 });
  const { signal: _1, ...request } = pipeline.requests[0];
  assert.deepEqual(request, {
    modelId: "fake",
    prompt: "p",
    maxTokens: 2,
    minP: 0.1,
    presencePenalty: 0.5,
    frequencyPenalty: -0.5,
    repetitionPenalty: 1.2,
    logitBias: { 7: -100 },
    logprobs: 2,
  });
  const bytes = (text: string) => [...new TextEncoder().encode(text)];
  const entry = (i: number) => ({
    token: `w${i} `,
    token_id: i,
    logprob: -(i + 1) / 10,
    bytes: bytes(`w${i} `),
    top_logprobs: [
      { token: `w${i} `, token_id: i, logprob: -(i + 1) / 10, bytes: bytes(`w${i} `) },
      { token: "alt1", token_id: 1001, logprob: -1, bytes: bytes("alt1") },
    ],
  });
  assert.deepEqual(whole.payload.logprobs, [entry(0), entry(1)]);

  const frames = await send(node, "inference_request", { model_id: "fake", prompt: "p", max_tokens: 2, logprobs: true, stream: true });
  assert.equal(pipeline.requests[1].logprobs, 0);
  assert.deepEqual(frames.slice(0, -1).map((f) => f.payload.logprobs.map((e: { token: string; top_logprobs: unknown[] }) => [e.token, e.top_logprobs.length])), [[["w0 ", 0]], [["w1 ", 0]]]);
  assert.equal(frames.at(-1)!.payload.logprobs.length, 2);

  const [plain] = await send(node, "inference_request", { model_id: "fake", prompt: "p", max_tokens: 1, logprobs: false });
  assert.equal("logprobs" in plain.payload, false);
  assert.equal(pipeline.requests[2].logprobs, undefined);
  await node.close();
});

test("stream: true sends inference_chunk frames in order, then the response; chunks join to its text", async () => {
  const { node } = await setup();
  const frames = await send(node, "inference_request", { model_id: "fake", prompt: "p", max_tokens: 4, stream: true });
  const chunks = frames.slice(0, -1);
  const last = frames[frames.length - 1];
  assert.deepEqual(chunks.map((f) => f.type), ["inference_chunk", "inference_chunk", "inference_chunk", "inference_chunk"]);
  assert.deepEqual(chunks.map((f) => f.payload.index), [0, 1, 2, 3]);
  assert.ok(chunks.every((f) => f.payload.model_id === "fake"));
  assert.equal(last.type, "inference_response");
  assert.equal(chunks.map((f) => f.payload.text).join(""), last.payload.text);
  assert.equal(last.payload.usage.completion_tokens, 4);
  await node.close();
});

test("types are strict and bounded: each bad field is VALIDATION_FAILED naming it", async () => {
  const { node, pipeline } = await setup({ maxPromptChars: 10, maxTokensLimit: 100, maxStopSequences: 2, maxStopChars: 4 });
  const base = { model_id: "fake", prompt: "p" };
  const cases: [Record<string, unknown>, string][] = [
    [{ ...base, max_tokens: "10" }, "max_tokens"],
    [{ ...base, max_tokens: 0 }, "max_tokens"],
    [{ ...base, max_tokens: 1.5 }, "max_tokens"],
    [{ ...base, max_tokens: 101 }, "max_tokens"],
    [{ ...base, temperature: "0.5" }, "temperature"],
    [{ ...base, temperature: -0.1 }, "temperature"],
    [{ ...base, temperature: 2.5 }, "temperature"],
    [{ ...base, top_p: 0 }, "top_p"],
    [{ ...base, top_p: 1.01 }, "top_p"],
    [{ ...base, top_k: -1 }, "top_k"],
    [{ ...base, top_k: 2.5 }, "top_k"],
    [{ ...base, seed: -1 }, "seed"],
    [{ ...base, seed: "7" }, "seed"],
    [{ ...base, stop: ["a", "b", "c"] }, "stop"],
    [{ ...base, stop: "toolong" }, "stop"],
    [{ ...base, stop: "" }, "stop"],
    [{ ...base, stop: [1] }, "stop"],
    [{ ...base, stream: "true" }, "stream"],
    [{ model_id: "fake" }, "prompt"],
    [{ ...base, prompt: "" }, "prompt"],
    [{ ...base, prompt: "much too long" }, "prompt"],
    [{ ...base, prompt: 5 }, "prompt"],
    [{ prompt: "p" }, "model_id"],
    [{ ...base, model_id: 1 }, "model_id"],
    [{ ...base, min_p: 1.5 }, "min_p"],
    [{ ...base, presence_penalty: 2.5 }, "presence_penalty"],
    [{ ...base, frequency_penalty: -3 }, "frequency_penalty"],
    [{ ...base, repetition_penalty: 0 }, "repetition_penalty"],
    [{ ...base, logit_bias: { x: 1 } }, "logit_bias"],
    [{ ...base, logit_bias: { 5: 101 } }, "logit_bias"],
    [{ ...base, logit_bias: [1] }, "logit_bias"],
    [{ ...base, logprobs: 1 }, "logprobs"],
    [{ ...base, logprobs: true, top_logprobs: 21 }, "top_logprobs"],
    [{ ...base, top_logprobs: 2 }, "top_logprobs"],
  ];
  for (const [payload, path] of cases) {
    await assert.rejects(send(node, "inference_request", payload), (err: any) => {
      assert.equal(err.code, "VALIDATION_FAILED", JSON.stringify(payload));
      assert.ok(err.details.issues.some((i: { path: string }) => i.path === path || i.path.startsWith(`${path}.`)), JSON.stringify(payload));
      return true;
    });
  }
  assert.equal(pipeline.requests.length, 0);
  await node.close();
});

test("an unknown model is MODEL_NOT_FOUND listing the models served", async () => {
  const { node, pipeline } = await setup();
  for (const stream of [false, true]) {
    await assert.rejects(send(node, "inference_request", { model_id: "llama3_1_8b", prompt: "p", stream }), (err: any) => {
      assert.equal(err.code, "MODEL_NOT_FOUND");
      assert.deepEqual(err.details, { model_id: "llama3_1_8b", available: ["fake", "other"] });
      return true;
    });
  }
  assert.equal(pipeline.requests.length, 0);
  await node.close();
});

test("pipeline errors keep their code (e.g. CONTEXT_LENGTH_EXCEEDED), streamed or not", async () => {
  const { node } = await setup();
  const prompt = Array.from({ length: 61 }, () => "x").join(" ");
  await assert.rejects(send(node, "inference_request", { model_id: "fake", prompt }), { code: "CONTEXT_LENGTH_EXCEEDED" });
  await assert.rejects(send(node, "inference_request", { model_id: "fake", prompt, stream: true }), { code: "CONTEXT_LENGTH_EXCEEDED" });
  await node.close();
});

test("a closed connection cancels its generation: streamed (consumer stops) and whole (signal)", async () => {
  const { node, pipeline } = await setup();
  const streaming = connection();
  const frames = await send(node, "inference_request", { model_id: "fake", prompt: "p", max_tokens: 4000, stream: true }, streaming, (frame) => {
    if (frame.payload.index === 2) {
      streaming.close();
      return false;
    }
  });
  assert.equal(frames.length, 3);
  await pipeline.ended;
  assert.equal(pipeline.stats().generationsInFlight, 0);

  const whole = connection();
  pipeline.tokenDelay = () => new Promise((resolve) => setTimeout(resolve, 1));
  const pending = send(node, "inference_request", { model_id: "fake", prompt: "p", max_tokens: 4000 }, whole);
  setTimeout(() => whole.close(), 10);
  const [frame] = await pending;
  assert.equal(frame.payload.finish_reason, "cancelled");
  assert.ok(frame.payload.usage.completion_tokens < 4000);
  assert.equal(pipeline.stats().generationsInFlight, 0);
  const stats = node.getStats().inference as any;
  assert.equal(stats.in_flight, 0);
  assert.equal(stats.finish_reasons.cancelled, 2);
  await node.close();
});

test("list_models → list_models_response with id, context_length, vocab_size", async () => {
  const { node } = await setup();
  const [frame] = await send(node, "list_models", { anything: "ignored" });
  assert.deepEqual(frame, {
    type: "list_models_response",
    payload: {
      models: [
        { id: "fake", context_length: 64, vocab_size: 128, description: "a fake" },
        { id: "other", context_length: 32, vocab_size: 50 },
      ],
    },
  });
  await node.close();
});

test("bad options are refused when the plugin is made", () => {
  assert.throws(() => inferencePlugin({ maxPromptChars: 0 }), /maxPromptChars must be an integer ≥ 1/);
  assert.throws(() => inferencePlugin({ defaults: { maxTokens: 5000 } }), /exceeds maxTokensLimit/);
  assert.throws(() => inferencePlugin({ defaults: { temperature: -1 } }), /temperature/);
  assert.throws(() => inferencePlugin({ defaults: { topP: 0 } }), /topP/);
});
