import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { argmax, Sampler } from "../src/engine/sampler.js";
import { createRandom } from "../src/shared/random.js";

/** Logits whose softmax (temperature 1) is exactly `probs` on the first ids, ~0 elsewhere. */
function logitsFor(probs: number[], vocab = 1000): Float32Array {
  const logits = new Float32Array(vocab).fill(-100);
  probs.forEach((p, i) => (logits[i] = Math.log(p)));
  return logits;
}

function draws(sampler: Sampler, logits: Float32Array, n: number): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const id = sampler.next(logits);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe("sampler", () => {
  test("argmax finds the first largest logit, like a plain loop", () => {
    const random = createRandom(1);
    for (let trial = 0; trial < 300; trial++) {
      const values = Float32Array.from({ length: 1 + Math.floor(random() * 40) }, () => Math.floor(random() * 5));
      let expected = 0;
      for (let i = 1; i < values.length; i++) if (values[i] > values[expected]) expected = i;
      assert.equal(argmax(values), expected, `values ${values}`);
    }
  });

  test("temperature 0 is greedy", () => {
    const sampler = new Sampler({ temperature: 0, topK: 0, topP: 1, seed: 1 });
    assert.deepEqual([...draws(sampler, logitsFor([0.2, 0.5, 0.3]), 50).keys()], [1]);
  });

  test("sampling follows the distribution and is reproducible from the seed", () => {
    const logits = logitsFor([0.5, 0.3, 0.2]);
    const counts = draws(new Sampler({ temperature: 1, topK: 0, topP: 1, seed: 7 }), logits, 4000);
    assert.ok(Math.abs(counts.get(0)! / 4000 - 0.5) < 0.04, `counts ${[...counts]}`);
    assert.ok(Math.abs(counts.get(2)! / 4000 - 0.2) < 0.04, `counts ${[...counts]}`);
    const a = new Sampler({ temperature: 1, topK: 0, topP: 1, seed: 99 });
    const b = new Sampler({ temperature: 1, topK: 0, topP: 1, seed: 99 });
    const seqA = Array.from({ length: 30 }, () => a.next(logits));
    assert.deepEqual(Array.from({ length: 30 }, () => b.next(logits)), seqA);
  });

  test("top-k keeps only the k likeliest tokens", () => {
    const logits = logitsFor([0.3, 0.25, 0.2, 0.15, 0.1]);
    const counts = draws(new Sampler({ temperature: 1, topK: 2, topP: 1, seed: 3 }), logits, 2000);
    assert.deepEqual([...counts.keys()].sort(), [0, 1]);
  });

  test("top-p keeps the smallest set of likeliest tokens reaching p", () => {
    const logits = logitsFor([0.6, 0.3, 0.05, 0.05]);
    assert.deepEqual([...draws(new Sampler({ temperature: 1, topK: 0, topP: 0.5, seed: 3 }), logits, 500).keys()], [0]);
    const two = draws(new Sampler({ temperature: 1, topK: 0, topP: 0.85, seed: 3 }), logits, 2000);
    assert.deepEqual([...two.keys()].sort(), [0, 1]);
    // Relative odds inside the nucleus are kept: 0.6 : 0.3.
    assert.ok(Math.abs(two.get(0)! / 2000 - 2 / 3) < 0.05);
  });

  test("top-p after top-k works on the renormalised k tokens", () => {
    // top-2 leaves 0.4 and 0.35 (→ 0.53, 0.47); p 0.5 then keeps only the first.
    const logits = logitsFor([0.4, 0.35, 0.25]);
    assert.deepEqual([...draws(new Sampler({ temperature: 1, topK: 2, topP: 0.5, seed: 5 }), logits, 300).keys()], [0]);
  });

  test("a higher temperature flattens the distribution", () => {
    const logits = logitsFor([0.7, 0.2, 0.1]);
    const cold = draws(new Sampler({ temperature: 0.3, topK: 0, topP: 1, seed: 11 }), logits, 2000);
    const hot = draws(new Sampler({ temperature: 3, topK: 0, topP: 1, seed: 11 }), logits, 2000);
    assert.ok(cold.get(0)! > hot.get(0)! + 400, `cold ${[...cold]} hot ${[...hot]}`);
  });
});
