/**
 * Log probabilities of generated tokens (a request's `logprobs`): computed from the logits the
 * token was drawn from (sampler.ts), then described with the token's text and bytes for the
 * reply (core's `TokenLogprob`).
 */
import type { TokenLogprob } from "@modelnode/core/pipeline";
import type { TextTokenizer } from "../shared/text-tokenizer.js";

/** What OpenAI reports for a token the distribution rules out (JSON has no −Infinity). */
export const LOGPROB_FLOOR = -9999;

/** The chosen token's log probability, and the `top` likeliest tokens' (likeliest first). */
export interface RawLogprobs {
  logprob: number;
  top: { id: number; logprob: number }[];
}

/**
 * log softmax(logits / temperature) at `id` and at the `top` likeliest ids. `normaliser` (the max
 * logit and the log of the softmax's sum, from a softmax already computed over the same logits
 * and temperature) saves the pass over the vocabulary that finds them.
 */
export function logprobsOf(
  logits: Float32Array,
  temperature: number,
  id: number,
  top: number,
  normaliser?: { max: number; logSum: number },
): RawLogprobs {
  let max: number;
  let logSum: number;
  if (normaliser) ({ max, logSum } = normaliser);
  else {
    max = -Infinity;
    for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
    let sum = 0;
    for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i] - max) / temperature);
    logSum = Math.log(sum);
  }
  const logprob = (i: number) => Math.max(LOGPROB_FLOOR, (logits[i] - max) / temperature - logSum);
  return { logprob: logprob(id), top: top > 0 ? topIndices(logits, top).map((i) => ({ id: i, logprob: logprob(i) })) : [] };
}

/** Indices of the `n` largest values, largest first (the lower index first on ties); O(V × n) at worst, ~O(V) in practice. */
export function topIndices(values: Float32Array, n: number): number[] {
  const count = Math.min(n, values.length);
  const ids: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (ids.length === count) {
      if (!(value > values[ids[count - 1]])) continue;
      ids.pop();
    }
    // After every id of a value ≥ this one: on ties the lower index stays first.
    let at = ids.length;
    while (at > 0 && value > values[ids[at - 1]]) at--;
    ids.splice(at, 0, i);
  }
  return ids;
}

/** The reply's entry for a generated token: its text and bytes, its log probability, the alternatives'. */
export function describeLogprobs(tokenizer: TextTokenizer, id: number, raw: RawLogprobs, withTop: boolean): TokenLogprob {
  const entry: TokenLogprob = { ...piece(tokenizer, id), logprob: raw.logprob };
  if (withTop) entry.top = raw.top.map((alternative) => ({ ...piece(tokenizer, alternative.id), logprob: alternative.logprob }));
  return entry;
}

function piece(tokenizer: TextTokenizer, id: number): { id: number; token: string; bytes: number[] } {
  const { text, bytes } = tokenizer.tokenPiece(id);
  return { id, token: text, bytes: [...bytes] };
}
