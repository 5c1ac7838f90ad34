/**
 * A node's speculative-decoding settings (OnnxPipelineOptions.speculative, resolved): the main
 * thread checks them, the engine guesses by them (engine/prompt-lookup.ts).
 */

export interface SpeculativeSettings {
  /** "ngram": rows guess by prompt lookup unless a request says `speculative: false`; "off": never. */
  method: "ngram" | "off";
  /** Most tokens a row guesses per run (k). */
  maxDraftTokens: number;
  /** The n-gram sizes matched, longest first: from `maxNgram` down to `minNgram` tokens. */
  minNgram: number;
  maxNgram: number;
}

export const SPECULATIVE_DEFAULTS: SpeculativeSettings = { method: "ngram", maxDraftTokens: 4, minNgram: 2, maxNgram: 4 };
