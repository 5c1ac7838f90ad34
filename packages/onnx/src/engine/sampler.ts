/**
 * Picks the next token from a row of logits: greedy (argmax) at temperature 0, otherwise
 * temperature → top-k → top-p (nucleus) sampling, in Hugging Face's order, driven by a seeded
 * PRNG so a seed reproduces the text. Scratch arrays are allocated once per sampler (one per
 * generation), not per token.
 */
import type { SamplerSettings } from "../messages/sampling.js";
import { createRandom } from "../shared/random.js";

/**
 * Index of the largest logit (the first one on ties). Four independent running maxima break the
 * loop's dependency chain: ~40 µs instead of ~55-100 µs over a 50k vocabulary, per token.
 */
export function argmax(logits: Float32Array): number {
  const n = logits.length;
  let v0 = -Infinity, v1 = -Infinity, v2 = -Infinity, v3 = -Infinity;
  let i0 = 0, i1 = 0, i2 = 0, i3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const a = logits[i], b = logits[i + 1], c = logits[i + 2], d = logits[i + 3];
    if (a > v0) { v0 = a; i0 = i; }
    if (b > v1) { v1 = b; i1 = i + 1; }
    if (c > v2) { v2 = c; i2 = i + 2; }
    if (d > v3) { v3 = d; i3 = i + 3; }
  }
  for (; i < n; i++) if (logits[i] > v0) { v0 = logits[i]; i0 = i; }
  let best = i0, bestValue = v0;
  if (v1 > bestValue || (v1 === bestValue && i1 < best)) { bestValue = v1; best = i1; }
  if (v2 > bestValue || (v2 === bestValue && i2 < best)) { bestValue = v2; best = i2; }
  if (v3 > bestValue || (v3 === bestValue && i3 < best)) { bestValue = v3; best = i3; }
  return best;
}

export class Sampler {
  private readonly random: () => number;
  private probs: Float32Array | undefined;
  private heap: Int32Array | undefined;

  constructor(private readonly settings: SamplerSettings) {
    this.random = createRandom(settings.seed);
  }

  next(logits: Float32Array): number {
    const { temperature, topK, topP } = this.settings;
    if (temperature === 0) return argmax(logits);
    const probs = this.softmax(logits, temperature);
    if ((topK === 0 || topK >= probs.length) && topP >= 1) return this.drawFromAll(probs);
    return this.drawFromTop(probs, topK === 0 ? probs.length : Math.min(topK, probs.length), topP);
  }

  private softmax(logits: Float32Array, temperature: number): Float32Array {
    if (!this.probs || this.probs.length !== logits.length) this.probs = new Float32Array(logits.length);
    const probs = this.probs;
    let max = -Infinity;
    for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
    let sum = 0;
    for (let i = 0; i < logits.length; i++) {
      const p = Math.exp((logits[i] - max) / temperature);
      probs[i] = p;
      sum += p;
    }
    for (let i = 0; i < probs.length; i++) probs[i] /= sum;
    return probs;
  }

  private drawFromAll(probs: Float32Array): number {
    let target = this.random();
    for (let i = 0; i < probs.length; i++) {
      target -= probs[i];
      if (target < 0) return i;
    }
    return argmax(probs); // rounding left a sliver of mass: fall back to the likeliest token
  }

  /**
   * The `k` likeliest tokens, then the smallest prefix of them whose mass (relative to the k)
   * reaches `topP`. A binary max-heap over token indices pops them in order in O(V + k log V),
   * so no full 50k-entry sort per token.
   */
  private drawFromTop(probs: Float32Array, k: number, topP: number): number {
    if (!this.heap || this.heap.length !== probs.length) this.heap = new Int32Array(probs.length);
    const heap = this.heap;
    let size = probs.length;
    for (let i = 0; i < size; i++) heap[i] = i;
    for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(heap, size, i, probs);

    const chosen: number[] = [];
    let chosenMass = 0;
    while (chosen.length < k && size > 0) {
      const top = heap[0];
      heap[0] = heap[--size];
      siftDown(heap, size, 0, probs);
      chosen.push(top);
      chosenMass += probs[top];
      if (topP < 1 && k === probs.length && chosenMass >= topP) break; // no top-k: stop at p of all mass
    }
    if (topP < 1 && k < probs.length) {
      // top-k first, then top-p over the renormalised k tokens.
      let mass = 0;
      for (let i = 0; i < chosen.length; i++) {
        mass += probs[chosen[i]] / chosenMass;
        if (mass >= topP) {
          chosen.length = i + 1;
          break;
        }
      }
      chosenMass = chosen.reduce((sum, id) => sum + probs[id], 0);
    }
    let target = this.random() * chosenMass;
    for (const id of chosen) {
      target -= probs[id];
      if (target < 0) return id;
    }
    return chosen[0];
  }
}

function siftDown(heap: Int32Array, size: number, index: number, keys: Float32Array): void {
  for (;;) {
    const left = 2 * index + 1;
    if (left >= size) return;
    const right = left + 1;
    let larger = right < size && keys[heap[right]] > keys[heap[left]] ? right : left;
    if (keys[heap[larger]] <= keys[heap[index]]) return;
    const swap = heap[index];
    heap[index] = heap[larger];
    heap[larger] = swap;
    index = larger;
  }
}
