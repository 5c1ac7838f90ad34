/**
 * One generation's grammar, as its row sees it: the mask of the tokens allowed next (computed on
 * the grammar thread while the model runs, see grammars.ts), applied to the row's logits before
 * sampling. A row whose mask has not arrived when its logits have keeps them (a copy: the run's
 * outputs are reused) and sits out decode runs until it comes; a row without a grammar has no
 * constraint at all, so unconstrained rows pay nothing.
 */
import type { TokenMask } from "../messages/grammar-protocol.js";

/** What a constraint needs of the engine's grammar client. */
export interface ConstraintOwner {
  advance(id: number, token: number): void;
  close(id: number): void;
  /** Takes the grammar thread's replies that have arrived, without waiting for an event-loop turn. */
  poll(): void;
}

export class GrammarConstraint {
  /** undefined: not here yet; null: the text is complete (and the model has no end-of-sequence token to end it). */
  mask: TokenMask | undefined;
  /** Logits that wait for the mask. */
  held: Float32Array | undefined;
  /** Every token the grammar accepted, a resumed generation's first: what a restarted grammar thread replays. */
  readonly accepted: number[];
  /** Called once when it closes (its generation ended). */
  onClose: (() => void) | undefined;
  private closed = false;

  constructor(
    readonly id: number,
    private readonly owner: ConstraintOwner,
    replay: readonly number[],
  ) {
    this.accepted = [...replay];
  }

  /** Whether the mask for the next token is here (polling for it first). */
  get ready(): boolean {
    if (this.mask === undefined) this.owner.poll();
    return this.mask !== undefined;
  }

  /** Sets every logit the grammar does not allow next to -Infinity (the mask must be here). */
  apply(logits: Float32Array): void {
    const mask = this.mask!;
    const words = Math.min(mask.length, Math.ceil(logits.length / 32));
    for (let word = 0; word < words; word++) {
      const bits = mask[word];
      if (bits === -1) continue;
      const base = word << 5;
      const end = Math.min(base + 32, logits.length);
      if (bits === 0) {
        logits.fill(-Infinity, base, end);
        continue;
      }
      for (let i = base; i < end; i++) if (((bits >>> (i - base)) & 1) === 0) logits[i] = -Infinity;
    }
    // Tokens past the mask's vocabulary are never allowed.
    if (words * 32 < logits.length) logits.fill(-Infinity, words * 32);
  }

  /** Whether the mask allows `token`. */
  allows(token: number): boolean {
    const mask = this.mask;
    return !!mask && token >= 0 && token >> 5 < mask.length && ((mask[token >> 5] >>> (token & 31)) & 1) === 1;
  }

  /** The row goes on with `token`: the grammar thread accepts it and sends the next mask. */
  advance(token: number): void {
    this.mask = undefined;
    this.accepted.push(token);
    this.owner.advance(this.id, token);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.mask = undefined;
    this.held = undefined;
    this.owner.close(this.id);
    this.onClose?.();
  }
}
