/**
 * Speculative decoding keeps sampling's seeds (engine/speculative-decode.ts): the same seed gives
 * the same text with and without guesses, on the copy-friendly tiny model at a temperature where
 * its guesses are often, but not always, right (the distribution: speculative-distribution.test.ts).
 */
import { after, before, describe, test } from "node:test";
import { createOnnxPipeline, type OnnxPipeline } from "../src/index.js";
import { assertSame, models } from "./speculative-helpers.js";

describe("speculative decoding: sampling", () => {
  let pipeline: OnnxPipeline;
  let prompt: string;
  before(async () => {
    pipeline = await createOnnxPipeline({ models: models(), speculative: { method: "ngram", positionCost: 0 } });
    // A prompt holding the copy model's cycle, so that guesses come from the prompt at once.
    prompt = `Again: ${(await pipeline.generate({ modelId: "copy", prompt: "Hello there", maxTokens: 40, speculative: false })).text}`;
  });
  after(() => pipeline.close());

  const sampled = (seed: number, speculative: boolean) => pipeline.generate({ modelId: "copy", prompt, maxTokens: 6, temperature: 1.6, topK: 3, seed, logprobs: 0, speculative });

  test("a seed gives the same text with and without speculation, every time", async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const first = await sampled(seed, true);
      assertSame(await sampled(seed, true), first, `seed ${seed}, again`);
      assertSame(await sampled(seed, false), first, `seed ${seed}, plain`);
    }
  });
});
