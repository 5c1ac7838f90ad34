/** buildGenerateRequest and GenerationCounters: what the inference and OpenAI plugins share. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildGenerateRequest, GenerationCounters, type GenerationResult } from "../src/index.js";

const signal = new AbortController().signal;

test("buildGenerateRequest fills maxTokens from the defaults and leaves unset sampling unset", () => {
  assert.deepEqual(buildGenerateRequest({ modelId: "m", prompt: "hi" }, { maxTokens: 64 }, signal), { modelId: "m", maxTokens: 64, signal, prompt: "hi" });
  // null counts as left out (the OpenAI API sends it).
  const request = buildGenerateRequest(
    { modelId: "m", prompt: "hi", maxTokens: null, temperature: null, topP: null, topK: null, seed: null },
    { maxTokens: 8, temperature: 0.5, topK: 3 },
    signal,
  );
  assert.deepEqual(request, { modelId: "m", maxTokens: 8, signal, temperature: 0.5, topK: 3, prompt: "hi" });
});

test("buildGenerateRequest: the request's values win; messages keep only role and content; one stop becomes a list", () => {
  const request = buildGenerateRequest(
    {
      modelId: "m",
      messages: [{ role: "user", content: "hi", name: "x" } as { role: string; content: string }],
      maxTokens: 5,
      temperature: 0,
      topP: 0.9,
      topK: 0,
      seed: 0,
      stop: "\n",
    },
    { maxTokens: 64, temperature: 1, topP: 1, topK: 40 },
    signal,
  );
  assert.deepEqual(request, {
    modelId: "m",
    maxTokens: 5,
    signal,
    temperature: 0,
    topP: 0.9,
    topK: 0,
    messages: [{ role: "user", content: "hi" }],
    seed: 0,
    stop: ["\n"],
  });
  assert.deepEqual(buildGenerateRequest({ modelId: "m", prompt: "p", stop: ["a", "b"] }, { maxTokens: 1 }, signal).stop, ["a", "b"]);
});

test("GenerationCounters.recordFinish counts the reason and the completion tokens; recordAbandoned a cancel", () => {
  const counters = new GenerationCounters();
  const result = (finishReason: GenerationResult["finishReason"], completionTokens: number): GenerationResult => ({
    text: "",
    finishReason,
    usage: { promptTokens: 1, completionTokens },
  });
  counters.recordFinish(result("stop", 3));
  counters.recordFinish(result("length", 4));
  counters.recordFinish(result("stop", 1));
  counters.recordAbandoned();
  assert.deepEqual(counters.snapshot(), {
    in_flight: 0,
    streamed_requests: 0,
    finish_reasons: { stop: 2, length: 1, cancelled: 1 },
    completion_tokens: 8,
  });
});

test("buildGenerateRequest passes the optional adjustments only when given (null: left out)", () => {
  const plain = buildGenerateRequest({ modelId: "m", prompt: "p", minP: null, logitBias: null, logprobs: null }, { maxTokens: 1 }, signal);
  assert.deepEqual(plain, { modelId: "m", maxTokens: 1, signal, prompt: "p" });
  const request = buildGenerateRequest(
    { modelId: "m", prompt: "p", minP: 0.1, presencePenalty: 0.5, frequencyPenalty: -0.5, repetitionPenalty: 1.1, logitBias: { 5: -100 }, logprobs: 0 },
    { maxTokens: 1 },
    signal,
  );
  assert.deepEqual(request, { modelId: "m", maxTokens: 1, signal, prompt: "p", minP: 0.1, presencePenalty: 0.5, frequencyPenalty: -0.5, repetitionPenalty: 1.1, logitBias: { 5: -100 }, logprobs: 0 });
});
