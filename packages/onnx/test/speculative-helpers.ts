/** Shared by the speculative-decoding tests: the models, prompts, and a comparison of two generations. */
import assert from "node:assert/strict";
import type { GenerateRequest, GenerationResult } from "@modelnode/core/pipeline";
import { ensureModel, ensureTinyModel } from "./helpers.js";

export const PROMPTS = [
  "The quick brown fox jumps over the lazy dog",
  "Once upon a time",
  "a b a b a b a b a b",
  "def add(a, b):\n    return a + b\n\ndef add(a, b):",
  "Hello",
  "The cat sat on the mat. The cat sat on the",
];

export type Request = Omit<GenerateRequest, "signal">;

export function models(): Record<string, string> {
  return { copy: ensureModel("copy-tiny-gpt2"), tiny: ensureTinyModel() };
}

/** Two generations agree: ids, text, finish, and log probabilities within 1e-4. */
export function assertSame(actual: GenerationResult, expected: GenerationResult, what: string): void {
  assert.equal(actual.text, expected.text, `${what}: text`);
  assert.equal(actual.finishReason, expected.finishReason, `${what}: finish reason`);
  assert.deepEqual(actual.usage, expected.usage, `${what}: usage`);
  if (!expected.logprobs) return;
  assert.deepEqual(
    actual.logprobs!.map((entry) => entry.id),
    expected.logprobs.map((entry) => entry.id),
    `${what}: token ids`,
  );
  actual.logprobs!.forEach((entry, i) => {
    assert.ok(Math.abs(entry.logprob - expected.logprobs![i].logprob) <= 1e-4, `${what}: logprob of token ${i}: ${entry.logprob} vs ${expected.logprobs![i].logprob}`);
    (entry.top ?? []).forEach((alt, j) => assert.ok(Math.abs(alt.logprob - expected.logprobs![i].top![j].logprob) <= 1e-4, `${what}: alternative ${j} of token ${i}`));
  });
}

