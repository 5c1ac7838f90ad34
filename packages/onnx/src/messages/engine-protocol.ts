/**
 * Messages between the pipeline (main thread) and the engine (engine thread). Requests carry a
 * numeric id chosen by the pipeline; the engine answers with events in batched messages, each
 * with a fresh stats snapshot, so that a reply and the figures it changed arrive together.
 */
import type { InferenceSession } from "onnxruntime-node";
import type { GenerationResult, ModelInfo, PipelineStats, ResumeFrom, StepRequest, StepResult, TokenLogprob } from "@modelnode/core/pipeline";
import type { GrammarSource } from "../shared/grammar-spec.js";
import type { ModelDtype } from "../shared/model-files.js";
import type { SerializedError } from "./errors.js";
import type { ResolvedSampling, SamplingDefaults } from "./sampling.js";
import type { SpeculativeSettings } from "./speculative.js";

/** The limits the engine schedules by (see engine/engine.ts). */
export interface EngineLimits {
  maxBatchSize: number;
  maxQueuedGenerations: number;
  maxCacheBytes: number;
  /** Automatic prefix caching (engine/prefix-cache.ts): on or off, tokens per block, the cache's share of maxCacheBytes. */
  prefixCache: boolean;
  prefixCacheBlockTokens: number;
  prefixCacheShare: number;
  prefillChunkTokens: number;
  maxSessions: number;
  sessionIdleMs: number;
  /** Structured output (engine/grammars.ts): a compile's deadline, compiled grammars kept, whitespace in JSON. */
  grammarCompileTimeoutMs: number;
  grammarCacheSize: number;
  jsonMaxWhitespace: number;
  /** Speculative decoding by prompt lookup (engine/prompt-lookup.ts). */
  speculative: SpeculativeSettings;
}

/** What the engine thread is started with (its `workerData`): the pipeline's resolved options, less the logger. */
export interface EngineOptions extends EngineLimits {
  models: Record<string, { dir: string; dtype?: ModelDtype }>;
  threads: number;
  spinning: boolean;
  sessionOptions: InferenceSession.SessionOptions;
  /** Shared with the main thread: see run-flags.ts. */
  runFlags: Int32Array;
}

/** A step as the engine gets it: a text input was encoded on the tokenizer thread. */
export type EngineStepRequest = Omit<StepRequest, "signal" | "inputIds"> & { inputIds: number[] };

/** Another choice of a generation's group: the same prompt and settings but its seed; cancelled before it was sent. */
export interface GroupChoice {
  id: number;
  seed: number;
  cancelled?: boolean;
}

export type ToEngine =
  /**
   * `promptIds`: the prompt or chat, encoded on the tokenizer thread. `choices`: the other choices
   * of its choice group (OpenAI's `n`), prefilled once with it; never with `resume`. `grammar`:
   * structured output, checked and lowered on main (shared/grammar-spec.ts); every choice follows it.
   */
  | { type: "generate"; id: number; modelId: string; promptIds: number[]; settings: ResolvedSampling; cancelled?: boolean; resume?: ResumeFrom; choices?: GroupChoice[]; grammar?: GrammarSource }
  /** A step's text input arrives encoded (ids). */
  | { type: "step"; id: number; request: EngineStepRequest }
  | { type: "cancel"; id: number }
  /** The caller reads a stream more slowly than it is produced: hold it (`resume` undoes it). */
  | { type: "pause"; id: number }
  | { type: "resume"; id: number }
  | { type: "closeSession"; sessionId: string }
  | { type: "close" };

export type EngineEvent =
  /**
   * `tokenIds`: the ids generated since the previous text event of this generation; `logprobs` when
   * asked for; `samplerState`: the sampler's state after the last id reported (a uint32, when sampled).
   */
  | [kind: "text", id: number, text: string, tokenIds: number[], logprobs?: TokenLogprob[], samplerState?: number]
  | [kind: "done", id: number, result: GenerationResult]
  | [kind: "step", id: number, result: StepResult]
  | [kind: "error", id: number, error: SerializedError]
  /** A step session was dropped (closed, expired, evicted or replaced). */
  | [kind: "sessionGone", sessionId: string];

export type FromEngine =
  | { type: "ready"; models: ModelInfo[]; samplingDefaults: Record<string, SamplingDefaults> }
  | { type: "failed"; error: SerializedError }
  | { type: "events"; events: EngineEvent[]; stats: PipelineStats }
  | { type: "log"; level: "debug" | "info" | "warn" | "error"; obj: object; msg?: string }
  | { type: "closed" };
