/** Shared by the speculative-decoding tests: the models, prompts, and a comparison of two generations. */
import assert from "node:assert/strict";
import type { GenerateRequest, GenerationResult } from "@modelnode/core/pipeline";
import { createOnnxPipeline, type OnnxPipeline } from "../src/index.js";
import { ensureModel, ensureTinyModel } from "./helpers.js";

export const PROMPTS = [
  "The quick brown fox jumps over the lazy dog",
  "Once upon a time",
  "a b a b a b a b a b",
  "def add(a, b):\n    return a + b\n\ndef add(a, b):",
];

export type Request = Omit<GenerateRequest, "signal">;

export function models(): Record<string, string> {
  return { copy: ensureModel("copy-tiny-gpt2"), tiny: ensureTinyModel() };
}

/**
 * A pipeline guessing from the prompt, and sampled generations on the copy model at a temperature
 * where its guesses are often, but not always, right: the prompt holds the model's cycle, so that
 * guesses come from it at once. The sampling tests' shared setup.
 */
export async function openSampledCopy(): Promise<{ pipeline: OnnxPipeline; sampled: (seed: number, speculative: boolean) => Promise<GenerationResult> }> {
  const pipeline = await createOnnxPipeline({ models: models(), speculative: { method: "ngram", positionCost: 0 } });
  const prompt = `Again: ${(await pipeline.generate({ modelId: "copy", prompt: "Hello there", maxTokens: 40, speculative: false })).text}`;
  const sampled = (seed: number, speculative: boolean) => pipeline.generate({ modelId: "copy", prompt, maxTokens: 6, temperature: 1.6, topK: 3, seed, logprobs: 0, speculative });
  return { pipeline, sampled };
}

/** Two generations agree: ids, text, finish, and log probabilities within 1e-4. */
export function assertSame(actual: GenerationResult, expected: GenerationResult, what: string): void {
  assert.equal(actual.text, expected.text, `${what}: text`);
  assert.equal(actual.finishReason, expected.finishReason, `${what}: finish reason`);
  // cachedTokens aside: the later run of a pair finds the earlier one's prompt in the prefix cache.
  const counts = ({ cachedTokens: _, ...usage }: GenerationResult["usage"]) => usage;
  assert.deepEqual(counts(actual.usage), counts(expected.usage), `${what}: usage`);
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

/**
 * Greedy generations with speculation under `settings`, alone and batched, against plain
 * decoding's on the same pipeline: ids, text, usage, and logprobs within 1e-4; on the copy model
 * (prompts, a prompt holding its cycle with every fifth token changed so that guesses are right
 * and then wrong, penalties that break the cycle) and the plain tiny model.
 */
export async function assertGreedyParity(settings: { maxDraftTokens: number; minNgram: number; maxNgram: number }): Promise<void> {
  const pipeline = await createOnnxPipeline({ models: models(), speculative: { method: "ngram", positionCost: 0, ...settings } });
  try {
    // The copy model's cycle with every fifth token changed: guesses from it are right, then wrong.
    const cycle = (await pipeline.generate({ modelId: "copy", prompt: "Hello there", maxTokens: 16, logprobs: 0, speculative: false })).logprobs!;
    const mutated = cycle.map((entry, i) => (i % 5 === 4 ? " zebra" : entry.token)).join("");
    const requests: Request[] = [
      { modelId: "copy", prompt: `Hello there${mutated}${mutated}`, maxTokens: 40, logprobs: 2 },
      { modelId: "copy", prompt: `List:${mutated}`, maxTokens: 33, logprobs: 2 },
    ];
    requests.push(...PROMPTS.flatMap((prompt, i): Request[] => [
      { modelId: "copy", prompt, maxTokens: 24 + i * 4, logprobs: 2 },
      { modelId: "tiny", prompt, maxTokens: 16, logprobs: 2 },
      // Penalties see the accepted tokens in order: the copy model's cycle gets broken by them.
      ...(i % 3 === 0 ? [{ modelId: "copy", prompt, maxTokens: 24, logprobs: 1, frequencyPenalty: 0.7, repetitionPenalty: 1.3 }] : []),
    ]));
    const plain: GenerationResult[] = [];
    for (const request of requests) plain.push(await pipeline.generate({ ...request, speculative: false }));
    const alone: GenerationResult[] = [];
    const before = pipeline.stats();
    for (const request of requests) alone.push(await pipeline.generate({ ...request, speculative: true }));
    const batched = await Promise.all(requests.map((request) => pipeline.generate(request)));
    const stats = pipeline.stats();
    requests.forEach((request, i) => {
      assertSame(alone[i], plain[i], `request ${i} (${request.modelId}) alone`);
      assertSame(batched[i], plain[i], `request ${i} (${request.modelId}) batched`);
    });
    // It did speculate, with guesses both accepted and rejected.
    const drafted = stats.specDraftTokens - before.specDraftTokens;
    const accepted = stats.specAcceptedTokens - before.specAcceptedTokens;
    assert.ok(accepted > 25, `accepted ${accepted} guesses`);
    // Rollback: with k ≥ 2 some guesses are rejected here. With k = 1 these prompts' single guesses
    // all come true (a rejection only happened when a guess ran past max_tokens in a batch), so
    // k = 1 is held to parity alone; the wider settings exercise rollback.
    if (settings.maxDraftTokens > 1) assert.ok(drafted > accepted, `all ${drafted} guesses accepted: no rollback exercised`);
  } finally {
    await pipeline.close();
  }
}
