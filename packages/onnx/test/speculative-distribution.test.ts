/**
 * Speculative decoding keeps sampling's distribution (engine/speculative-decode.ts): the first
 * tokens drawn with guesses and without, from disjoint seeds, on the copy-friendly tiny model at a
 * temperature where its guesses are often, but not always, right, pass a chi-square test of one
 * distribution.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { GenerationResult } from "@modelnode/core/pipeline";
import { openSampledCopy } from "./speculative-helpers.js";

describe("speculative decoding: the sampled distribution", () => {
  let copy: Awaited<ReturnType<typeof openSampledCopy>>;
  before(async () => {
    copy = await openSampledCopy();
  });
  after(() => copy.pipeline.close());
  const sampled = (seed: number, speculative: boolean) => copy.sampled(seed, speculative);

  test("the distribution of each of the first tokens is plain decoding's (chi-square, disjoint seeds)", async () => {
    const DRAWS = 105;
    const POSITIONS = 5;
    const before = copy.pipeline.stats();
    const draw = async (speculative: boolean, firstSeed: number) => {
      const results: GenerationResult[] = [];
      const together = 15;
      for (let start = 0; start < DRAWS; start += together) {
        results.push(...(await Promise.all(Array.from({ length: together }, (_, i) => sampled(firstSeed + start + i, speculative)))));
      }
      return results.map((result) => result.logprobs!.map((entry) => entry.id));
    };
    const withGuesses = await draw(true, 1000);
    const plain = await draw(false, 50_000);
    const stats = copy.pipeline.stats();
    const drafted = stats.specDraftTokens - before.specDraftTokens;
    const accepted = stats.specAcceptedTokens - before.specAcceptedTokens;
    assert.ok(accepted > 30 && drafted - accepted >= 5, `guesses both kept and rejected (${accepted} of ${drafted})`);
    for (let position = 1; position < POSITIONS; position++) {
      const a = counts(withGuesses, position);
      const b = counts(plain, position);
      const { statistic, dof } = chiSquareHomogeneity(a, b);
      // p < 0.001 rejects; two samples of one distribution pass this 999 times in 1000 (fixed seeds: same outcome every run).
      assert.ok(statistic < chiSquareCritical999(dof), `position ${position}: χ² = ${statistic.toFixed(1)} with ${dof} dof (${JSON.stringify([...a])} vs ${JSON.stringify([...b])})`);
      assert.ok(dof >= 1, `position ${position} is not deterministic`);
    }
  });
});

function counts(draws: number[][], position: number): Map<number, number> {
  const map = new Map<number, number>();
  for (const ids of draws) if (ids.length > position) map.set(ids[position], (map.get(ids[position]) ?? 0) + 1);
  return map;
}

/** Pearson's chi-square test that two samples come from one distribution (categories seen fewer than 5 times in all pooled into one). */
function chiSquareHomogeneity(a: Map<number, number>, b: Map<number, number>): { statistic: number; dof: number } {
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  const rows: [number, number][] = [];
  const rare: [number, number] = [0, 0];
  for (const key of keys) {
    const pair: [number, number] = [a.get(key) ?? 0, b.get(key) ?? 0];
    if (pair[0] + pair[1] < 5) [rare[0], rare[1]] = [rare[0] + pair[0], rare[1] + pair[1]];
    else rows.push(pair);
  }
  if (rare[0] + rare[1] > 0) rows.push(rare);
  const totalA = rows.reduce((s, [x]) => s + x, 0);
  const totalB = rows.reduce((s, [, y]) => s + y, 0);
  let statistic = 0;
  for (const [x, y] of rows) {
    const expectedA = ((x + y) * totalA) / (totalA + totalB);
    const expectedB = ((x + y) * totalB) / (totalA + totalB);
    statistic += (x - expectedA) ** 2 / expectedA + (y - expectedB) ** 2 / expectedB;
  }
  return { statistic, dof: rows.length - 1 };
}

/** The chi-square distribution's 0.999 quantile (Wilson–Hilferty; within 1% from 1 dof up). */
function chiSquareCritical999(dof: number): number {
  if (dof === 1) return 10.83;
  const z = 3.0902;
  return dof * (1 - 2 / (9 * dof) + z * Math.sqrt(2 / (9 * dof))) ** 3;
}
