/**
 * Prompt lookup (n-gram speculation; vLLM's `ngram` method, llama.cpp's `--spec-type ngram`): a
 * row guesses its next tokens by finding its last n tokens earlier in its own prompt and output
 * and proposing what followed them there. Nothing but the row's own tokens is read: no draft
 * model, no extra run. The guesses are verified by the next decode run (speculative-decode.ts).
 *
 * How many tokens a row guesses follows how often its guesses were right: `acceptance` is a
 * running estimate of the probability that a guess is accepted, updated after every
 * verification. The decode run's width is then chosen from these estimates and the run's cost
 * (speculative-decode.ts), so a row whose guesses fail falls back to plain decoding; the estimate
 * drifts back up slowly while it does not guess, so a row whose text starts repeating itself is
 * tried again (at worst one guess every hundred-odd steps).
 */
import type { SpeculativeSettings } from "../messages/speculative.js";

/** Weight of the newest verification outcome in the acceptance estimate. */
const LEARNING_RATE = 0.25;
/** Acceptance a row starts from, and drifts back to while it does not guess. */
const PRIOR_ACCEPTANCE = 0.5;
/** Per step without guessing, the estimate moves this much of the way back to the prior (from 0, ~100 steps to pay again). */
const DRIFT = 0.005;
/** Only the last this many tokens are searched: a bounded cost per step, however long the row. */
const SEARCH_WINDOW = 4096;

export class PromptLookup {
  /** Prompt, then every accepted token, in order. */
  private readonly tokens: number[];
  /** Estimated probability that a guess is accepted. */
  acceptance = PRIOR_ACCEPTANCE;
  /** Totals for stats: guesses fed to the model, and how many of them were accepted. */
  drafted = 0;
  accepted = 0;

  constructor(
    private readonly settings: SpeculativeSettings,
    inputIds: readonly number[],
  ) {
    this.tokens = [...inputIds];
  }

  /** A token the row generated (accepted guesses and the corrections alike), in order. */
  push(id: number): void {
    this.tokens.push(id);
  }

  /**
   * Up to `maxDraftTokens` guesses: what followed the latest earlier occurrence of the row's last
   * n tokens (n from maxNgram down to minNgram); none when nothing matches.
   */
  propose(): number[] {
    const { tokens } = this;
    const { maxDraftTokens, minNgram, maxNgram } = this.settings;
    const end = tokens.length;
    const floor = Math.max(0, end - SEARCH_WINDOW);
    for (let n = Math.min(maxNgram, end - 1); n >= minNgram; n--) {
      // The latest start i < end - n with tokens[i, i + n) equal to the last n tokens.
      for (let i = end - n - 1; i >= floor; i--) {
        let j = n - 1;
        while (j >= 0 && tokens[i + j] === tokens[end - n + j]) j--;
        if (j >= 0) continue;
        const from = i + n;
        return tokens.slice(from, Math.min(from + maxDraftTokens, end));
      }
    }
    return [];
  }

  /** After a run: `proposed` guesses were fed, the first `accepted` of them were right. */
  verified(proposed: number, accepted: number): void {
    if (proposed === 0) {
      this.acceptance += (PRIOR_ACCEPTANCE - this.acceptance) * DRIFT;
      return;
    }
    this.drafted += proposed;
    this.accepted += accepted;
    // Each accepted guess is a success; the first rejected one (if any) a failure; later guesses
    // were never judged.
    for (let i = 0; i < accepted; i++) this.acceptance += (1 - this.acceptance) * LEARNING_RATE;
    if (accepted < proposed) this.acceptance -= this.acceptance * LEARNING_RATE;
  }
}
