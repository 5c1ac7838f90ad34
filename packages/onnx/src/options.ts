/**
 * Options of `createOnnxPipeline`, a plain typed object. Every limit has a default chosen for a
 * small CPU node (measured on 2 cores; see docs/engine.md); `resolveOptions` fills them in and
 * rejects values that cannot work, before anything starts.
 */
import { availableParallelism } from "node:os";
import type { InferenceSession } from "onnxruntime-node";
import { silentLogger, type PipelineLogger } from "./logger.js";

export interface OnnxPipelineOptions {
  /** Model id (what clients send as `model_id`) → local directory in the Hugging Face ONNX layout. */
  models: Record<string, string>;
  /**
   * ONNX Runtime intra-op threads per model (default: the CPUs Node reports, at most 4). The
   * engine runs on a thread of its own; the main thread only moves messages and bytes.
   */
  threads?: number;
  /** Let ONNX Runtime's threads spin while waiting for work (default false: a spinning thread takes a core from the sockets). */
  spinning?: boolean;
  /** Extra ONNX Runtime session options, applied over the pipeline's own (default none). */
  sessionOptions?: InferenceSession.SessionOptions;
  /** `maxTokens` when a request gives none (default 16). */
  defaultMaxTokens?: number;
  /** Upper bound that every request's `maxTokens` is clamped to (default 512). */
  maxTokensCeiling?: number;
  /** Sequences one batched decode run serves, per model (default 16); more generations wait in the queue. */
  maxBatchSize?: number;
  /** @deprecated The batch cap's former name; `maxBatchSize` wins when both are given. */
  maxConcurrentGenerations?: number;
  /**
   * Generations allowed to wait for batch room or cache memory; one more gets BUSY
   * (default 1024: a burst from many clients is served in turn rather than refused).
   */
  maxQueuedGenerations?: number;
  /** Step sessions held at once; at the cap the least recently used idle one is evicted, or TOO_MANY_SESSIONS when all are busy (default 64). */
  maxSessions?: number;
  /** A step session unused for this long is freed (default 300000 = 5 min). */
  sessionIdleMs?: number;
  /**
   * Key/value cache budget in bytes (default 1 GiB): running generations reserve their worst case
   * ((prompt + max tokens) × bytes per token) and step sessions count what they hold; a
   * generation that does not fit waits, idle sessions are evicted to make room.
   */
  maxCacheBytes?: number;
  /** Prompt tokens fed per scheduler iteration: long prompts go in chunks, short ones are batched up to this many padded tokens (default 128). */
  prefillChunkTokens?: number;
  /** Most messages in one chat (a request's `messages`); more is INVALID_REQUEST (default 512). */
  maxChatMessages?: number;
  /** Most characters in one chat's message contents together; more is INVALID_REQUEST (default 262144). */
  maxChatChars?: number;
  /** Where load times, model facts and evictions are logged (default: silent). */
  logger?: PipelineLogger;
}

export type ResolvedOptions = Required<Omit<OnnxPipelineOptions, "sessionOptions" | "maxConcurrentGenerations">> & {
  sessionOptions: InferenceSession.SessionOptions;
};

export const DEFAULT_OPTIONS = {
  threads: Math.max(1, Math.min(availableParallelism(), 4)),
  spinning: false,
  defaultMaxTokens: 16,
  maxTokensCeiling: 512,
  maxBatchSize: 16,
  maxQueuedGenerations: 1024,
  maxSessions: 64,
  sessionIdleMs: 300_000,
  maxCacheBytes: 1024 * 1024 * 1024,
  prefillChunkTokens: 128,
  maxChatMessages: 512,
  maxChatChars: 262_144,
} as const;

const POSITIVE_INTEGERS = [
  "threads",
  "defaultMaxTokens",
  "maxTokensCeiling",
  "maxBatchSize",
  "maxSessions",
  "sessionIdleMs",
  "maxCacheBytes",
  "prefillChunkTokens",
  "maxChatMessages",
  "maxChatChars",
] as const;

export function resolveOptions(options: OnnxPipelineOptions): ResolvedOptions {
  if (!options || typeof options.models !== "object" || options.models === null) {
    throw new TypeError("createOnnxPipeline: `models` must map model ids to directories");
  }
  if (Object.keys(options.models).length === 0) throw new TypeError("createOnnxPipeline: `models` is empty");
  const { maxConcurrentGenerations, ...rest } = definedOnly(options);
  const resolved: ResolvedOptions = {
    ...DEFAULT_OPTIONS,
    ...(maxConcurrentGenerations !== undefined ? { maxBatchSize: maxConcurrentGenerations } : {}),
    ...rest,
    models: options.models,
    sessionOptions: options.sessionOptions ?? {},
    logger: options.logger ?? silentLogger,
  };
  for (const key of POSITIVE_INTEGERS) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 1) {
      throw new TypeError(`createOnnxPipeline: \`${key}\` must be a positive integer (got ${resolved[key]})`);
    }
  }
  if (!Number.isInteger(resolved.maxQueuedGenerations) || resolved.maxQueuedGenerations < 0) {
    throw new TypeError("createOnnxPipeline: `maxQueuedGenerations` must be an integer ≥ 0");
  }
  if (typeof resolved.spinning !== "boolean") throw new TypeError("createOnnxPipeline: `spinning` must be true or false");
  return resolved;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
