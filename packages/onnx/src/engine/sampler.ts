/**
 * Picks the next token from a row of logits: first the row's logit processors (penalties, bias;
 * see logit-processors.ts), on a copy; then greedy (argmax) at temperature 0, otherwise
 * temperature → top-k → top-p (nucleus) → min-p, in Hugging Face's order, driven by a seeded
 * PRNG so a seed reproduces the text. With `logprobs` asked for, it also says the chosen token's
 * log probability (and the likeliest alternatives') in the distribution it was drawn from: the
 * adjusted logits over the temperature (1 when greedy), before the cuts. Scratch arrays are
 * allocated once per sampler (one per generation), not per token. Its `state` (the PRNG's) can
 * start another sampler where this one is: a generation resumed elsewhere draws the same numbers.
 */
import type { SamplerSettings } from "../messages/sampling.js";
import { Mulberry32, mulberry32Seed } from "../shared/random.js";
import type { LogitProcessor } from "./logit-processors.js";
import { logprobsOf, type RawLogprobs } from "./token-logprobs.js";

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
  private readonly random: Mulberry32;
  private probs: Float32Array | undefined;
  private heap: Int32Array | undefined;
  /** The row's own copy of its logits, when processors adjust them. */
  private adjusted: Float32Array | undefined;
  /** The last softmax's max logit and log of its sum (for logprobs without a second pass). */
  private softmaxMax = 0;
  private softmaxLogSum = 0;
  /** After next(), with `logprobs` asked for: the chosen token's, and the alternatives'. */
  lastLogprobs: RawLogprobs | undefined;

  constructor(
    private readonly settings: SamplerSettings,
    /** Applied in order before temperature (logit-processors.ts); empty: the logits are read as they are. */
    private readonly processors: readonly LogitProcessor[] = [],
    /** Continue from this generator state (`state` of a sampler elsewhere) instead of the seed's. */
    state?: number,
  ) {
    this.random = new Mulberry32(state ?? mulberry32Seed(settings.seed));
  }

  /**
   * Its generator's state: one draw per sampled token (none when greedy), so the state after a
   * token's draw continues the generation exactly wherever a sampler is built from it.
   */
  get state(): number {
    return this.random.state;
  }

  /** The next token. `logits` is only read (the rows of a choice group share one run's output). */
  next(logits: Float32Array): number {
    if (this.processors.length > 0) logits = this.adjust(logits);
    const id = this.pick(logits);
    if (this.settings.logprobs !== undefined) this.lastLogprobs = this.describe(logits, id);
    for (const processor of this.processors) processor.accepted(id);
    return id;
  }

  private pick(logits: Float32Array): number {
    const { temperature, topK, topP, minP = 0 } = this.settings;
    if (temperature === 0) return argmax(logits);
    const probs = this.softmax(logits, temperature);
    if ((topK === 0 || topK >= probs.length) && topP >= 1 && minP <= 0) return this.drawFromAll(probs);
    return this.drawFromTop(probs, topK === 0 ? probs.length : Math.min(topK, probs.length), topP, minP);
  }

  private adjust(logits: Float32Array): Float32Array {
    if (!this.adjusted || this.adjusted.length !== logits.length) this.adjusted = new Float32Array(logits.length);
    const adjusted = this.adjusted;
    adjusted.set(logits);
    for (const processor of this.processors) processor.apply(adjusted);
    return adjusted;
  }

  private describe(logits: Float32Array, id: number): RawLogprobs {
    const { temperature, logprobs = 0 } = this.settings;
    // Sampling computed the softmax already: its max and sum give every log probability.
    const normaliser = temperature > 0 ? { max: this.softmaxMax, logSum: this.softmaxLogSum } : undefined;
    return logprobsOf(logits, temperature > 0 ? temperature : 1, id, logprobs, normaliser);
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
    this.softmaxMax = max;
    this.softmaxLogSum = Math.log(sum);
    return probs;
  }

  private drawFromAll(probs: Float32Array): number {
    let target = this.random.next();
    for (let i = 0; i < probs.length; i++) {
      target -= probs[i];
      if (target < 0) return i;
    }
    return argmax(probs); // rounding left a sliver of mass: fall back to the likeliest token
  }

  /**
   * The `k` likeliest tokens, then the smallest prefix of them whose mass (relative to the k)
   * reaches `topP`, then those at least `minP` × the likeliest's probability. A binary max-heap
   * over token indices pops them in order in O(V + k log V), so no full 50k-entry sort per token.
   */
  private drawFromTop(probs: Float32Array, k: number, topP: number, minP: number): number {
    if (!this.heap || this.heap.length !== probs.length) this.heap = new Int32Array(probs.length);
    const heap = this.heap;
    let size = probs.length;
    for (let i = 0; i < size; i++) heap[i] = i;
    for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(heap, size, i, probs);

    const chosen: number[] = [];
    let chosenMass = 0;
    // Without top-k, min-p's cut can stop the popping: it keeps a prefix, whatever top-p keeps.
    const floor = k === probs.length && minP > 0 ? minP * probs[heap[0]] : 0;
    while (chosen.length < k && size > 0) {
      const top = heap[0];
      if (probs[top] < floor) break;
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
    }
    if (minP > 0) {
      // Relative to the likeliest token, so the renormalisations before do not change it.
      const threshold = minP * probs[chosen[0]];
      let kept = 1;
      while (kept < chosen.length && probs[chosen[kept]] >= threshold) kept++;
      chosen.length = kept;
    }
    chosenMass = chosen.reduce((sum, id) => sum + probs[id], 0);
    let target = this.random.next() * chosenMass;
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

/**
 * Gives every path of the per-token loops over the vocabulary (argmax, softmax, the draws) its
 * type feedback before their first real call. Without this, a first call over a whole vocabulary
 * runs a loop long enough to be compiled on the stack (OSR) before the code after the loop has
 * ever run; that code then has no feedback, and V8 (Node 20) re-enters the same cached OSR code on
 * every later call and deoptimizes at the loop's exit each time. Seen with --trace-deopt in the
 * engine: argmax once per greedy token (~70-85 µs a call instead of ~45-50 over 50 257 logits),
 * softmax three times and drawFromTop twice per sampled token (there the ~5 ms of sampling a
 * 50k vocabulary hides the cost). Calls on short arrays (ties, wins in each lane, every cut) give
 * the feedback: ~10 ms once, when the engine thread loads this module.
 */
function warmUp(): void {
  const shapes = [[0, 0, 0, 0, 0, 0, 0], [0, 1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1, 0], [0, 0, 0, 1, 0, 0, 0], [1, 2, 3, 4, 4, 3, 2, 1, 9]].map((values) => Float32Array.from(values));
  const settings: SamplerSettings[] = [
    { temperature: 0.8, topK: 0, topP: 1, seed: 1 }, // every token
    { temperature: 0.8, topK: 3, topP: 0.9, minP: 0.05, seed: 2 }, // top-k, then top-p, then min-p
    { temperature: 0.8, topK: 0, topP: 0.5, seed: 3 }, // top-p alone
    { temperature: 0.8, topK: 0, topP: 1, minP: 0.2, seed: 4 }, // min-p alone
  ];
  const samplers = settings.map((each) => new Sampler(each));
  for (let round = 0; round < 40; round++) {
    for (const values of shapes) {
      argmax(values);
      for (const sampler of samplers) sampler.next(values);
    }
  }
}
warmUp();
