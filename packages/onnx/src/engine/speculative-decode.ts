/**
 * Speculative decoding with prompt lookup (prompt-lookup.ts), for one model's decode batches.
 *
 * A row that guesses feeds its last token and its k guesses in the batch's decode run (k + 1
 * tokens, right-aligned like any input; rows guessing fewer are padded with masked columns), and
 * gets the logits after each of them. The row then samples token after token from those logits
 * exactly as plain decoding would (GenerationRow.accept: logit processors, logprobs, stop strings,
 * max tokens, EOS), going on while what it sampled equals the next guess. So the text is the text
 * plain decoding gives — greedy and seeded sampling alike (the sampler draws once per token, from
 * the same distribution) — and for sampling this is the standard rejection rule with a one-hot
 * draft: a guess is kept with probability p(guess), and on rejection the token drawn is from p
 * without the guess, renormalised. The rejected guesses' columns are then masked in the row's
 * cache (KvBatch.rollback).
 *
 * Guessing is not free: every row of the batch computes the run's full width. The width is chosen
 * per run to maximise expected tokens per unit of run cost: a row with acceptance estimate r and
 * k guesses expects 1 + r + r² + … + r^k tokens; a run over `slots` rows of width w is modelled as
 * costing a + b·slots·w, with b/a fitted from this model's measured run times (a prior until the
 * runs vary enough). So guessing stops where it does not pay: rows whose guesses fail, large
 * batches on a compute-bound device.
 */
import type { Tensor } from "onnxruntime-node";
import { halfToFloat } from "../shared/float16.js";
import type { GenerationRow } from "./generation-row.js";
import type { KvBatch } from "./kv-batch.js";

/** Prior for b/a: one more position costs a fifth of a one-token pass (GPT-2 small on 2 CPU cores). */
const PRIOR_POSITION_COST = 0.2;
/** Weight of the prior's two pseudo-runs against the measured runs (which decay). */
const PRIOR_WEIGHT = 4;
const DECAY = 0.98;
/** A run wider than plain must promise this much more per unit of cost: estimates are noisy, plain decoding is the safe side. */
const MARGIN = 1.08;

/** Run time as a + b·positions, fitted by decayed least squares with a prior. */
export class RunCost {
  private n = 0;
  private sx = 0;
  private sy = 0;
  private sxx = 0;
  private sxy = 0;
  private scale: number | undefined;

  observe(positions: number, ms: number): void {
    if (!(ms > 0)) return;
    this.scale ??= ms / (1 + PRIOR_POSITION_COST * positions);
    this.n = this.n * DECAY + 1;
    this.sx = this.sx * DECAY + positions;
    this.sy = this.sy * DECAY + ms;
    this.sxx = this.sxx * DECAY + positions * positions;
    this.sxy = this.sxy * DECAY + positions * ms;
  }

  /** b/a: what one more position costs, relative to the run's fixed cost. */
  get positionCost(): number {
    if (this.scale === undefined) return PRIOR_POSITION_COST;
    // The prior as two pseudo-runs (1 and 9 positions) on the line through the first run.
    let { n, sx, sy, sxx, sxy } = this;
    for (const x of [1, 9]) {
      const y = this.scale * (1 + PRIOR_POSITION_COST * x);
      n += PRIOR_WEIGHT / 2;
      sx += (PRIOR_WEIGHT / 2) * x;
      sy += (PRIOR_WEIGHT / 2) * y;
      sxx += (PRIOR_WEIGHT / 2) * x * x;
      sxy += (PRIOR_WEIGHT / 2) * x * y;
    }
    const b = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    const a = (sy - b * sx) / n;
    if (!(a > 0) || !Number.isFinite(b)) return PRIOR_POSITION_COST;
    return Math.min(2, Math.max(0.005, b / a));
  }
}

export class SpeculativeDecoder {
  readonly cost = new RunCost();

  constructor(
    /** The node's fixed position cost (SpeculativeSettings.positionCost); undefined: measured. */
    private readonly positionCost?: number,
  ) {}

  /** Guesses fed to the model and guesses accepted, over this model's life (stats). */
  draftTokens = 0;
  acceptedTokens = 0;

  /**
   * Each slot's guesses for the next run, or undefined when no row guesses (a plain run).
   * `fed[slot]` says which slots are fed (not idle, done or free).
   */
  plan(batch: KvBatch<GenerationRow>, fed: readonly boolean[]): number[][] | undefined {
    const contextLength = batch.model.contextLength;
    let best = 0;
    const guesses = batch.owners.map((row, slot) => {
      const lookup = row?.speculation;
      if (!row || !lookup || !fed[slot] || row.constraint) return [];
      // Never past the context or past what max tokens leaves (the last token is never fed).
      const room = Math.min(contextLength - row.length, row.settings.maxTokens - row.completionTokens - 1);
      const drafts = room > 0 ? lookup.propose().slice(0, room) : [];
      best = Math.max(best, drafts.length);
      return drafts;
    });
    // The batch's columns never pass the context (graphs may size tables by it).
    best = Math.min(best, contextLength - batch.columns - 1);
    if (best <= 0) return undefined;
    const width = this.bestWidth(batch, guesses, fed, best + 1);
    return width > 1 ? guesses.map((drafts) => drafts.slice(0, width - 1)) : undefined;
  }

  /** The run width (1 = plain) with the most expected tokens per unit of cost. */
  private bestWidth(batch: KvBatch<GenerationRow>, guesses: number[][], fed: readonly boolean[], most: number): number {
    const perPosition = this.positionCost ?? this.cost.positionCost;
    let bestWidth = 1;
    let bestRate = 0;
    for (let width = 1; width <= most; width++) {
      let tokens = 0;
      batch.owners.forEach((row, slot) => {
        if (!row || !fed[slot]) return;
        const r = row.speculation?.acceptance ?? 0;
        let expected = 1;
        let chance = 1;
        for (let j = 0; j < Math.min(guesses[slot].length, width - 1); j++) expected += chance *= r;
        tokens += expected;
      });
      const rate = tokens / (1 + perPosition * batch.size * width);
      if (rate > bestRate * (width === 1 ? 1 : bestWidth === 1 ? MARGIN : 1.02)) [bestWidth, bestRate] = [width, rate];
    }
    return bestWidth;
  }

  /**
   * The row samples from the logits after each token it fed (`fed[0]` its last token, then its
   * guesses) while what it samples matches the next guess; returns how many of its fed tokens
   * its cache keeps.
   */
  verify(row: GenerationRow, drafts: readonly number[], logits: readonly Float32Array[]): number {
    let accepted = 0;
    while (!row.accept(logits[accepted]) && accepted < drafts.length && row.nextInput === drafts[accepted]) accepted++;
    row.speculation?.verified(drafts.length, accepted);
    this.draftTokens += drafts.length;
    this.acceptedTokens += accepted;
    return accepted + 1;
  }
}

/** Per row, the logits after each of its `lengths[row]` fed tokens, from a run's [rows, width, vocab] logits (inputs right-aligned). */
export function logitsPerPosition(logits: Tensor, lengths: readonly number[], width: number, vocab: number): Float32Array[][] {
  const perRow = (logits.dims.length === 3 ? logits.dims[1] : width) * vocab;
  return lengths.map((length, row) =>
    Array.from({ length }, (_, i) => {
      const start = row * perRow + perRow - (length - i) * vocab;
      if (logits.type === "float16") return halfToFloat((logits.data as Uint16Array).subarray(start, start + vocab));
      if (logits.type === "float32") return (logits.data as Float32Array).subarray(start, start + vocab);
      throw new Error(`logits are ${logits.type}; only float32 and float16 logits are supported`);
    }),
  );
}
