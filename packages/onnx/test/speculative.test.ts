/**
 * Speculative decoding by prompt lookup (engine/prompt-lookup.ts, engine/speculative-decode.ts):
 * it changes how fast text comes, never the text. Checked on the copy-friendly tiny model (its
 * greedy text repeats every 16 tokens, so guesses are accepted in long runs) and the plain tiny
 * model (guesses mostly fail): greedy output and logprobs equal plain decoding's, alone and
 * batched, here with one guess per run (eight: speculative-wide.test.ts). Sampling:
 * speculative-sampling.test.ts and speculative-distribution.test.ts;
 * where a generation ends inside an accepted run, and the settings: speculative-ends.test.ts.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createOnnxPipeline } from "../src/index.js";
import { assertGreedyParity, models } from "./speculative-helpers.js";

describe("speculative decoding: greedy output is plain decoding's", () => {
  test("k ≤ 1, n-grams 1–2: ids and logprobs over many prompts, alone and batched", () => assertGreedyParity({ maxDraftTokens: 1, minNgram: 1, maxNgram: 2 }));

  test("off (node or request) never guesses", async (t) => {
    const pipeline = await createOnnxPipeline({ models: models(), speculative: { method: "off" } });
    t.after(() => pipeline.close());
    await pipeline.generate({ modelId: "copy", prompt: "Hello", maxTokens: 60, speculative: true });
    assert.equal(pipeline.stats().specDraftTokens, 0);
    const on = await createOnnxPipeline({ models: models(), speculative: { method: "ngram", positionCost: 0 } });
    t.after(() => on.close());
    await on.generate({ modelId: "copy", prompt: "Hello", maxTokens: 60, speculative: false });
    assert.equal(on.stats().specDraftTokens, 0);
    await on.generate({ modelId: "copy", prompt: "Hello", maxTokens: 60 });
    assert.ok(on.stats().specAcceptedTokens > 20, "on for requests that do not say");
  });
});
