/**
 * Options of `createOnnxPipeline`, a plain typed object. Every limit has a default chosen for a
 * small CPU node; `resolveOptions` fills them in and rejects values that cannot work.
 */
import type { InferenceSession } from "onnxruntime-node";
import { silentLogger, type PipelineLogger } from "./logger.js";

export interface OnnxPipelineOptions {
  /** Model id (what clients send as `model_id`) → local directory in the Hugging Face ONNX layout. */
  models: Record<string, string>;
  /** ONNX Runtime intra-op threads per model (default 1: on a small CPU model, extra threads cost more in hand-off than they win; raise it for larger models). */
  threads?: number;
  /** Extra ONNX Runtime session options, applied over the pipeline's own (default none). */
  sessionOptions?: InferenceSession.SessionOptions;
  /** `maxTokens` when a request gives none (default 16). */
  defaultMaxTokens?: number;
  /** Upper bound that every request's `maxTokens` is clamped to (default 512). */
  maxTokensCeiling?: number;
  /** Generations running at once; beyond it requests wait in a queue (default 4). */
  maxConcurrentGenerations?: number;
  /**
   * Generations allowed to wait; one more gets PipelineError BUSY (default 1024: a burst from
   * many clients is served in turn rather than refused; the wait is bounded by the queue length).
   */
  maxQueuedGenerations?: number;
  /** Step sessions held at once; at the cap the least recently used idle one is evicted, or TOO_MANY_SESSIONS when all are busy (default 64). */
  maxSessions?: number;
  /** A step session unused for this long is freed (default 300000 = 5 min). */
  sessionIdleMs?: number;
  /** Bytes of key/value cache that step sessions and generations may hold together (default 256 MiB). */
  maxCacheBytes?: number;
  /** Long prompts are fed in chunks of this many tokens, so one long prefill cannot stall other requests' decode steps for long (default 128). */
  prefillChunkTokens?: number;
  /** Where load times, model facts and evictions are logged (default: silent). */
  logger?: PipelineLogger;
}

export type ResolvedOptions = Required<Omit<OnnxPipelineOptions, "sessionOptions">> & {
  sessionOptions: InferenceSession.SessionOptions;
};

export const DEFAULT_OPTIONS = {
  threads: 1,
  defaultMaxTokens: 16,
  maxTokensCeiling: 512,
  maxConcurrentGenerations: 4,
  maxQueuedGenerations: 1024,
  maxSessions: 64,
  sessionIdleMs: 300_000,
  maxCacheBytes: 256 * 1024 * 1024,
  prefillChunkTokens: 128,
} as const;

export function resolveOptions(options: OnnxPipelineOptions): ResolvedOptions {
  if (!options || typeof options.models !== "object" || options.models === null) {
    throw new TypeError("createOnnxPipeline: `models` must map model ids to directories");
  }
  if (Object.keys(options.models).length === 0) throw new TypeError("createOnnxPipeline: `models` is empty");
  const resolved: ResolvedOptions = {
    ...DEFAULT_OPTIONS,
    ...definedOnly(options),
    models: options.models,
    sessionOptions: options.sessionOptions ?? {},
    logger: options.logger ?? silentLogger,
  };
  const positive = [
    "threads",
    "defaultMaxTokens",
    "maxTokensCeiling",
    "maxConcurrentGenerations",
    "maxSessions",
    "sessionIdleMs",
    "maxCacheBytes",
    "prefillChunkTokens",
  ] as const;
  for (const key of positive) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 1) {
      throw new TypeError(`createOnnxPipeline: \`${key}\` must be a positive integer (got ${resolved[key]})`);
    }
  }
  if (!Number.isInteger(resolved.maxQueuedGenerations) || resolved.maxQueuedGenerations < 0) {
    throw new TypeError("createOnnxPipeline: `maxQueuedGenerations` must be an integer ≥ 0");
  }
  return resolved;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
