/**
 * Options of `createOnnxPipeline`, a plain typed object. Every limit has a default chosen for a
 * small CPU node (measured on 2 cores; see docs/engine.md); `resolveOptions` fills them in and
 * rejects values that cannot work, before anything starts.
 */
import { availableParallelism } from "node:os";
import type { InferenceSession } from "onnxruntime-node";
import { silentLogger, type PipelineLogger } from "../shared/logger.js";
import type { SpeculativeSettings } from "../messages/speculative.js";
import { MODEL_DTYPES, type ModelDtype } from "../shared/model-files.js";
import { resolveSpeculative, type SpeculativeOptions } from "./speculative-options.js";

/** A model folder and, optionally, which of its graphs to load (transformers.js's `dtype`). */
export interface ModelEntry {
  dir: string;
  /** fp32 | fp16 | q8 | int8 | uint8 | q4 | q4f16 | bnb4; default: the fp32 graph, or the folder's only graph. */
  dtype?: ModelDtype;
}

export interface OnnxPipelineOptions {
  /**
   * Model id (what clients send as `model_id`) → local directory in the Hugging Face ONNX layout,
   * or `{ dir, dtype }` to choose one of the folder's graphs (onnx/model_fp16.onnx, …).
   */
  models: Record<string, string | ModelEntry>;
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
  /**
   * Upper bound that every request's `maxTokens` is clamped to (default 4096, what tools send;
   * a generation also ends when the model's context is full, and cache memory is reserved for at
   * most the context, so a large value costs nothing).
   */
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
  /**
   * Automatic prefix caching (default true): the keys and values of processed token blocks are
   * kept after a request ends, and a request that starts with the same tokens (a shared system
   * prompt, a chat's earlier turns, a restarted step session) prefills only the rest. See
   * docs/engine.md, "Prefix cache".
   */
  prefixCache?: boolean;
  /** Tokens per cached block (default 16): a prefix is found, and reused, a whole block at a time. From 1 to 1024. */
  prefixCacheBlockTokens?: number;
  /**
   * Most of `maxCacheBytes` the cached blocks may hold (default 0.5). Idle blocks give way, least
   * recently used first, to running generations and sessions whatever this share. From 0 to 1 (0: none kept).
   */
  prefixCacheShare?: number;
  /** Prompt tokens fed per scheduler iteration: long prompts go in chunks, short ones are batched up to this many padded tokens (default 128). */
  prefillChunkTokens?: number;
  /** Most alternatives per token a request's `logprobs` may ask for; more is INVALID_REQUEST (default 20, OpenAI's limit). */
  maxTopLogprobs?: number;
  /** Most tokens a request's `logitBias` may name; more is INVALID_REQUEST (default 300, OpenAI's limit). */
  maxLogitBias?: number;
  /** Most messages in one chat (a request's `messages`); more is INVALID_REQUEST (default 512). */
  maxChatMessages?: number;
  /** Most characters in one chat's message contents together; more is INVALID_REQUEST (default 262144). */
  maxChatChars?: number;
  /**
   * Structured output (GenerateRequest.grammar; docs/structured-output.md). Largest grammar (the
   * request's `grammar`, as JSON) in bytes (default 32768).
   */
  maxGrammarBytes?: number;
  /**
   * Largest repetition count in a grammar: a schema's maxLength, minLength, maxItems, minItems,
   * max/minProperties; a regex's or EBNF grammar's `{m,n}` (default 256). Compile time grows with it.
   */
  maxGrammarRepetition?: number;
  /** Most alternatives in a grammar: enum values, anyOf entries, choices (default 1024). */
  maxGrammarAlternatives?: number;
  /**
   * How long compiling one grammar may take, in ms, on the grammar thread (default 5000): past
   * it the request fails (INVALID_GRAMMAR) and the thread is restarted. Unconstrained generations
   * never wait for a compile; other constrained ones wait for their masks meanwhile.
   */
  grammarCompileTimeoutMs?: number;
  /** Compiled grammars kept for reuse, per pipeline (default 64; least recently used out). */
  grammarCacheSize?: number;
  /** Whitespace characters allowed in each gap between JSON tokens outside strings (default 2; 0: compact JSON). */
  jsonMaxWhitespace?: number;
  /** Most tools (functions) one request may offer (GenerateRequest.tools); more is INVALID_REQUEST (default 128, OpenAI's limit). */
  maxTools?: number;
  /**
   * Speculative decoding by prompt lookup (docs/engine.md): `method` "ngram" or "off" (default);
   * `maxDraftTokens` guesses per run at most (default 4); n-grams from `maxNgram` (default 4) down
   * to `minNgram` (default 2) tokens. A request's `speculative: false` opts out.
   */
  speculative?: SpeculativeOptions;
  /** Where load times, model facts and evictions are logged (default: silent). */
  logger?: PipelineLogger;
}

export type ResolvedOptions = Required<Omit<OnnxPipelineOptions, "sessionOptions" | "maxConcurrentGenerations" | "models" | "speculative">> & {
  models: Record<string, ModelEntry>;
  speculative: SpeculativeSettings;
  sessionOptions: InferenceSession.SessionOptions;
};

export const DEFAULT_OPTIONS = {
  threads: Math.max(1, Math.min(availableParallelism(), 4)),
  spinning: false,
  defaultMaxTokens: 16,
  maxTokensCeiling: 4096,
  maxBatchSize: 16,
  maxQueuedGenerations: 1024,
  maxSessions: 64,
  sessionIdleMs: 300_000,
  maxCacheBytes: 1024 * 1024 * 1024,
  prefixCache: true,
  prefixCacheBlockTokens: 16,
  prefixCacheShare: 0.5,
  prefillChunkTokens: 128,
  maxChatMessages: 512,
  maxChatChars: 262_144,
  maxTopLogprobs: 20,
  maxLogitBias: 300,
  maxGrammarBytes: 32 * 1024,
  maxGrammarRepetition: 256,
  maxGrammarAlternatives: 1024,
  grammarCompileTimeoutMs: 5000,
  grammarCacheSize: 64,
  jsonMaxWhitespace: 2,
  maxTools: 128,
} as const;

const POSITIVE_INTEGERS = [
  "threads",
  "defaultMaxTokens",
  "maxTokensCeiling",
  "maxBatchSize",
  "maxSessions",
  "sessionIdleMs",
  "maxCacheBytes",
  "prefixCacheBlockTokens",
  "prefillChunkTokens",
  "maxChatMessages",
  "maxChatChars",
  "maxGrammarBytes",
  "maxGrammarRepetition",
  "maxGrammarAlternatives",
  "grammarCompileTimeoutMs",
  "grammarCacheSize",
  "maxTools",
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
    models: Object.fromEntries(Object.entries(options.models).map(([id, entry]) => [id, modelEntry(id, entry)])),
    sessionOptions: options.sessionOptions ?? {},
    speculative: resolveSpeculative(options.speculative),
    logger: options.logger ?? silentLogger,
  };
  for (const key of POSITIVE_INTEGERS) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 1) {
      throw new TypeError(`createOnnxPipeline: \`${key}\` must be a positive integer (got ${resolved[key]})`);
    }
  }
  for (const key of ["maxQueuedGenerations", "maxTopLogprobs", "maxLogitBias"] as const) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 0) throw new TypeError(`createOnnxPipeline: \`${key}\` must be an integer ≥ 0`);
  }
  if (!Number.isInteger(resolved.jsonMaxWhitespace) || resolved.jsonMaxWhitespace < 0 || resolved.jsonMaxWhitespace > 64) {
    throw new TypeError("createOnnxPipeline: `jsonMaxWhitespace` must be an integer from 0 to 64");
  }
  if (typeof resolved.spinning !== "boolean") throw new TypeError("createOnnxPipeline: `spinning` must be true or false");
  if (typeof resolved.prefixCache !== "boolean") throw new TypeError("createOnnxPipeline: `prefixCache` must be true or false");
  if (resolved.prefixCacheBlockTokens > 1024) throw new TypeError("createOnnxPipeline: `prefixCacheBlockTokens` must be an integer from 1 to 1024");
  if (typeof resolved.prefixCacheShare !== "number" || !(resolved.prefixCacheShare >= 0 && resolved.prefixCacheShare <= 1)) {
    throw new TypeError("createOnnxPipeline: `prefixCacheShare` must be a number from 0 to 1");
  }
  return resolved;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function modelEntry(id: string, entry: string | ModelEntry): ModelEntry {
  if (typeof entry === "string" && entry.length > 0) return { dir: entry };
  if (typeof entry === "object" && entry !== null && typeof entry.dir === "string" && entry.dir.length > 0) {
    if (entry.dtype !== undefined && !MODEL_DTYPES.includes(entry.dtype)) {
      throw new TypeError(`createOnnxPipeline: model "${id}": unknown dtype "${String(entry.dtype)}" (one of ${MODEL_DTYPES.join(", ")})`);
    }
    return entry.dtype !== undefined ? { dir: entry.dir, dtype: entry.dtype } : { dir: entry.dir };
  }
  throw new TypeError(`createOnnxPipeline: model "${id}" must be a directory or { dir, dtype }`);
}

/**
 * A command-line model argument: `id=dir` or `id=dir:dtype` (the dtype only when the text after
 * the last ":" is one: "C:\\m" or "dir:x" stay directories). For CLIs built on this package.
 */
export function parseModelArgument(text: string): [string, ModelEntry] {
  const eq = text.indexOf("=");
  if (eq < 1 || eq === text.length - 1) throw new TypeError(`expected id=dir or id=dir:dtype, got "${text}"`);
  const id = text.slice(0, eq);
  const rest = text.slice(eq + 1);
  const colon = rest.lastIndexOf(":");
  const suffix = colon > 0 ? rest.slice(colon + 1) : "";
  if ((MODEL_DTYPES as string[]).includes(suffix)) return [id, { dir: rest.slice(0, colon), dtype: suffix as ModelDtype }];
  return [id, { dir: rest }];
}
