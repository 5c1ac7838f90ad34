// The sampling adjustments against their formulas, computed here independently: OpenAI's presence
// and frequency penalties, Hugging Face's repetition penalty, logit bias, min-p, and the log
// probabilities the sampler reports (log-softmax of the adjusted logits over the temperature).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { logitProcessors, LogitBias, Penalties } from "../src/engine/logit-processors.js";
import { Sampler } from "../src/engine/sampler.js";
import { LOGPROB_FLOOR, logprobsOf, topIndices } from "../src/engine/token-logprobs.js";
import type { SamplerSettings } from "../src/messages/sampling.js";
import { createRandom } from "../src/shared/random.js";

const random = createRandom(2024);
const randomLogits = (vocab: number) => Float32Array.from({ length: vocab }, () => (random() - 0.5) * 12);
const settings = (extra: Partial<SamplerSettings> = {}): SamplerSettings => ({ temperature: 0, topK: 0, topP: 1, seed: 1, ...extra });

/** log softmax(values / temperature), in float64. */
function logSoftmax(values: ArrayLike<number>, temperature = 1): number[] {
  const scaled = Array.from(values, (v) => v / temperature);
  const max = Math.max(...scaled);
  const logSum = Math.log(scaled.reduce((sum, v) => sum + Math.exp(v - max), 0));
  return scaled.map((v) => v - max - logSum);
}

function close(actual: number, expected: number, what: string, tolerance = 1e-5): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected}`);
}

describe("logit processors", () => {
  test("a row that asks for nothing gets no processor", () => {
    assert.deepEqual(logitProcessors(settings(), [1, 2, 3]), []);
    assert.deepEqual(logitProcessors(settings({ logitBias: [] }), [1]), []);
  });

  test("presence and frequency penalties: logit − frequency × count − presence × (count > 0), over generated tokens only", () => {
    const vocab = 50;
    const logits = randomLogits(vocab);
    const prompt = [1, 2, 3, 3];
    const generated = [3, 7, 7, 7, 9];
    const [penalties] = logitProcessors(settings({ presencePenalty: 0.6, frequencyPenalty: 0.35 }), prompt, generated.slice(0, 2));
    for (const id of generated.slice(2)) penalties.accepted(id);
    const adjusted = Float32Array.from(logits);
    penalties.apply(adjusted);
    for (let j = 0; j < vocab; j++) {
      const count = generated.filter((id) => id === j).length;
      close(adjusted[j], logits[j] - 0.35 * count - 0.6 * (count > 0 ? 1 : 0), `token ${j}`);
    }
  });

  test("negative penalties encourage repeats", () => {
    const logits = new Float32Array(4);
    const penalties = new Penalties(1, -0.5, -1, [], [2, 2]);
    penalties.apply(logits);
    assert.deepEqual([...logits], [0, 0, 2, 0]);
  });

  test("repetition penalty: over prompt and generated tokens, positive logits divided, negative multiplied, once per token", () => {
    const vocab = 40;
    const logits = randomLogits(vocab);
    const prompt = [0, 5, 5, 11];
    const generated = [11, 20, 20];
    const [penalties] = logitProcessors(settings({ repetitionPenalty: 1.3 }), prompt, generated);
    const adjusted = Float32Array.from(logits);
    penalties.apply(adjusted);
    const seen = new Set([...prompt, ...generated]);
    for (let j = 0; j < vocab; j++) {
      const l = logits[j];
      close(adjusted[j], seen.has(j) ? (l > 0 ? l / 1.3 : l * 1.3) : l, `token ${j}`);
    }
  });

  test("penalties together: repetition first, then frequency and presence, then the bias", () => {
    const logits = Float32Array.of(2, -2, 4, 1);
    const processors = logitProcessors(settings({ repetitionPenalty: 2, frequencyPenalty: 0.5, presencePenalty: 0.25, logitBias: [[3, 10], [0, -1]] }), [0], [1, 1]);
    assert.equal(processors.length, 2);
    const adjusted = Float32Array.from(logits);
    for (const processor of processors) processor.apply(adjusted);
    // token 0: prompt → 2 / 2 = 1, then bias −1 → 0; token 1: generated twice → −2 × 2 = −4, − 0.5 × 2 − 0.25 = −5.25
    assert.deepEqual([...adjusted], [0, -5.25, 4, 11]);
  });

  test("logit bias adds each listed token's bias; ids past the logits are ignored", () => {
    const logits = randomLogits(10);
    const adjusted = Float32Array.from(logits);
    new LogitBias([[2, 5], [9, -100], [12, 3]]).apply(adjusted);
    for (let j = 0; j < 10; j++) close(adjusted[j], logits[j] + (j === 2 ? 5 : j === 9 ? -100 : 0), `token ${j}`);
  });
});

describe("sampler adjustments and log probabilities", () => {
  test("the sampler adjusts a copy: the run's logits are left as they were", () => {
    const logits = randomLogits(30);
    const before = Float32Array.from(logits);
    const sampler = new Sampler(settings({ logitBias: [[0, 50]] }), logitProcessors(settings({ logitBias: [[0, 50]] }), []));
    assert.equal(sampler.next(logits), 0);
    assert.deepEqual(logits, before);
  });

  test("the penalties count what the sampler picked: greedy with a frequency penalty walks down the ranking", () => {
    const logits = Float32Array.of(3, 2.5, 2, 1.5, 1);
    const options = settings({ frequencyPenalty: 0.8 });
    const sampler = new Sampler(options, logitProcessors(options, []));
    // 3 → picked (3−0.8=2.2 next), then 2.5, then 2.2 (token 0 again) … each pick lowers that token by 0.8.
    const picks = Array.from({ length: 4 }, () => sampler.next(logits));
    assert.deepEqual(picks, [0, 1, 0, 2]);
  });

  test("min-p keeps the tokens at least min_p × the likeliest's probability, in their relative odds", () => {
    const logits = Float32Array.from([0.5, 0.3, 0.1, 0.06, 0.04], Math.log);
    const sampler = new Sampler(settings({ temperature: 1, minP: 0.25, seed: 9 }));
    const counts = new Map<number, number>();
    for (let i = 0; i < 4000; i++) {
      const id = sampler.next(logits);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    // threshold 0.125: tokens 0 and 1 only, as 0.5 : 0.3.
    assert.deepEqual([...counts.keys()].sort(), [0, 1]);
    close(counts.get(0)! / 4000, 0.5 / 0.8, "share of token 0", 0.03);
  });

  test("min-p after top-k and top-p: the shortest of the three cuts", () => {
    const logits = Float32Array.from([0.4, 0.3, 0.2, 0.1], Math.log);
    const seen = (extra: Partial<SamplerSettings>) => {
      const sampler = new Sampler(settings({ temperature: 1, seed: 3, ...extra }));
      return [...new Set(Array.from({ length: 2000 }, () => sampler.next(logits)))].sort();
    };
    assert.deepEqual(seen({ topK: 3, minP: 0.6 }), [0, 1]); // top-3, then ≥ 0.24
    assert.deepEqual(seen({ topP: 0.95, minP: 0.4 }), [0, 1, 2]); // top-p keeps 4, min-p ≥ 0.16
    assert.deepEqual(seen({ topK: 2, minP: 0.1 }), [0, 1]);
  });

  test("logprobs: log-softmax of the adjusted logits over the temperature (1 when greedy), with the likeliest alternatives", () => {
    for (const temperature of [0, 0.7, 1.5]) {
      const logits = randomLogits(200);
      const options = settings({ temperature, seed: 5, logprobs: 5, presencePenalty: 1, logitBias: [[17, 3]] });
      const processors = logitProcessors(options, [], [17, 40]);
      const sampler = new Sampler(options, processors);
      const id = sampler.next(logits);
      const adjusted = Float32Array.from(logits);
      adjusted[17] += -1 + 3;
      adjusted[40] -= 1;
      const expected = logSoftmax(adjusted, temperature || 1);
      const raw = sampler.lastLogprobs!;
      close(raw.logprob, expected[id], `chosen token at temperature ${temperature}`);
      const ranking = expected.map((lp, i) => [lp, i]).sort((a, b) => b[0] - a[0]).slice(0, 5);
      assert.deepEqual(raw.top.map((t) => t.id), ranking.map(([, i]) => i));
      raw.top.forEach((t, k) => close(t.logprob, ranking[k][0], `alternative ${k}`));
      if (temperature === 0) assert.equal(id, ranking[0][1]);
    }
  });

  test("logprobs of a banned token are floored at -9999; no logprobs asked, none computed", () => {
    const logits = Float32Array.of(0, 0, -Infinity);
    assert.deepEqual(logprobsOf(logits, 1, 2, 3).top.map((t) => t.id), [0, 1, 2]);
    assert.equal(logprobsOf(logits, 1, 2, 0).logprob, LOGPROB_FLOOR);
    const sampler = new Sampler(settings());
    sampler.next(logits);
    assert.equal(sampler.lastLogprobs, undefined);
  });

  test("topIndices is a stable partial sort", () => {
    for (let trial = 0; trial < 200; trial++) {
      const values = Float32Array.from({ length: 1 + Math.floor(random() * 60) }, () => Math.floor(random() * 8));
      const n = Math.floor(random() * 25);
      const expected = [...values.keys()].sort((a, b) => values[b] - values[a] || a - b).slice(0, n);
      assert.deepEqual(topIndices(values, n), expected, `values ${values} n ${n}`);
    }
  });
});
