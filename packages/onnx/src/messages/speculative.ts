/**
 * A node's speculative-decoding settings (OnnxPipelineOptions.speculative, resolved): the main
 * thread checks them, the engine guesses by them (engine/prompt-lookup.ts).
 */

export interface SpeculativeSettings {
  /** "ngram": rows guess by prompt lookup unless a request says `speculative: false`; "off" (default): never. */
  method: "ngram" | "off";
  /** Most tokens a row guesses per run (k). */
  maxDraftTokens: number;
  /** The n-gram sizes matched, longest first: from `maxNgram` down to `minNgram` tokens. */
  minNgram: number;
  maxNgram: number;
  /**
   * What one more position costs in a decode run, relative to the run's fixed cost (b/a of
   * engine/speculative-decode.ts's cost model). Absent: fitted from the model's measured run
   * times. 0: extra positions are taken as free, so a row guesses whenever it finds a match and
   * its guesses are right often enough (vLLM's and llama.cpp's n-gram behaviour; fits a GPU).
   */
  positionCost?: number;
}

/** Off by default: on the development machine the bench could not show that it never costs (docs/engine.md). */
export const SPECULATIVE_DEFAULTS: SpeculativeSettings = { method: "off", maxDraftTokens: 4, minNgram: 2, maxNgram: 4 };
