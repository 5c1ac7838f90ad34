/**
 * Messages between the engine (engine thread) and its grammar thread (grammar/worker.ts), which
 * holds xgrammar: compiled grammars and one matcher per constrained generation. The engine opens a
 * matcher per generation, then after each sampled token sends it (batched per run) and gets the
 * mask of the tokens allowed next back, computed while the model runs. Generations are named by
 * the engine's request ids.
 */
import type { GrammarSource } from "../shared/grammar-spec.js";
import type { SerializedError } from "./errors.js";

/** What the grammar thread is started with (its `workerData`). */
export interface GrammarThreadOptions {
  /** Whitespace characters allowed in each gap between JSON tokens (outside strings). */
  jsonMaxWhitespace: number;
  /** Compiled grammars kept (least recently used out). */
  cacheSize: number;
}

/** A model as the grammar thread needs it: its vocabulary's files, end-of-sequence ids, logits width. */
export interface GrammarModel {
  id: string;
  dir: string;
  eosIds: number[];
  vocabSize: number;
}

/** A mask: bit `id % 32` of word `id >> 5` set when token `id` may come next; null once the text is complete and ended. */
export type TokenMask = Int32Array | null;

export type ToGrammar =
  /** A matcher for generation `id`, past `replay` (a resumed generation's ids). `key`: the cache key (grammar-spec.ts). */
  | { type: "open"; id: number; model: GrammarModel; source: GrammarSource; key: string; replay: number[] }
  /** Each generation's sampled token, in order; the reply is one "masks" message. */
  | { type: "advance"; steps: [id: number, token: number][] }
  | { type: "close"; ids: number[] };

export type FromGrammar =
  /** A cache miss: compiling starts now (the engine's deadline runs from here). */
  | { type: "compiling"; id: number }
  | { type: "opened"; id: number; mask: TokenMask; compileMs: number | undefined }
  | { type: "masks"; masks: [id: number, mask: TokenMask][] }
  /** The open failed (an invalid grammar: INVALID_GRAMMAR), or a token was refused. */
  | { type: "failed"; id: number; error: SerializedError }
  /** xgrammar's instance aborted: every matcher is lost (the engine restarts the thread). */
  | { type: "broken"; error: SerializedError };
