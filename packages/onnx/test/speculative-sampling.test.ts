/**
 * Speculative decoding keeps sampling's seeds (engine/speculative-decode.ts): the same seed gives
 * the same text with and without guesses, on the copy-friendly tiny model at a temperature where
 * its guesses are often, but not always, right (the distribution: speculative-distribution.test.ts).
 */
import { after, before, describe, test } from "node:test";
import { assertSame, openSampledCopy } from "./speculative-helpers.js";

describe("speculative decoding: sampling", () => {
  let copy: Awaited<ReturnType<typeof openSampledCopy>>;
  before(async () => {
    copy = await openSampledCopy();
  });
  after(() => copy.pipeline.close());
  const sampled = (seed: number, speculative: boolean) => copy.sampled(seed, speculative);

  test("a seed gives the same text with and without speculation, every time", async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const first = await sampled(seed, true);
      assertSame(await sampled(seed, true), first, `seed ${seed}, again`);
      assertSame(await sampled(seed, false), first, `seed ${seed}, plain`);
    }
  });
});
