/**
 * The example node's configuration: one zod schema for the JSON file, environment variables and
 * command-line flags alike, with the defaults below. Objects are strict, so a misspelt key is an
 * error naming it rather than a setting silently ignored.
 */
import { fileURLToPath } from "node:url";
import { DEFAULT_PORT, z } from "@modelnode/core";
import { DEFAULT_OPTIONS as ONNX_DEFAULTS } from "@modelnode/onnx";

/** `<repo>/models/tiny-gpt2`, the bundled model (this file is at examples/model-node/{src,dist/src}). */
export const BUNDLED_MODEL_DIR = fileURLToPath(new URL("../../../../models/tiny-gpt2", import.meta.url));
export const DEFAULT_MODEL_ID = "tiny-gpt2";
/**
 * The model id the integration guide's own example client asks for. The default config serves
 * the bundled model under it too, so that client works unchanged against `npm start`.
 */
export const GUIDE_MODEL_ID = "test_model";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const KEY_HASH = /^sha256:[0-9a-f]{64}$/i;

const intBetween = (min: number, max: number) => {
  const message = `expected integer between ${min} and ${max}`;
  return z.int({ error: message }).min(min, { error: message }).max(max, { error: message });
};
const atLeast = (min: number) => {
  const message = `expected integer ≥ ${min}`;
  return z.int({ error: message }).min(min, { error: message });
};
const nonEmpty = (what = "non-empty string") => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });

export const authConfigSchema = z.strictObject({
  /** Refuse messages other than heartbeat/authentication (and legacy, see exemptLegacy) until authenticated. */
  required: z.boolean({ error: "expected true or false" }).default(false),
  /** Accepted license keys as "sha256:<64 hex>" hashes (never plain keys). */
  keyHashes: z
    .array(z.string().regex(KEY_HASH, { error: 'expected "sha256:" followed by 64 hex digits (make one with modelnode-hash-key)' }))
    .default([]),
  /** HMAC secret for license_hash (≥ 32 bytes). Default: random per start. */
  secret: z.string().min(32, { error: "expected at least 32 characters" }).optional(),
  /** Serve legacy messages without authentication (the field's clients cannot authenticate). */
  exemptLegacy: z.boolean({ error: "expected true or false" }).default(true),
  /** Message types served without authentication besides authentication itself. */
  exemptTypes: z.array(nonEmpty()).optional(),
  /** Failed attempts before the connection is closed with 1008. */
  maxFailedAttempts: atLeast(1).optional(),
});

export const limitsConfigSchema = z.strictObject({
  // WebSocket layer and dispatch (core NodeLimits)
  maxPayloadBytes: atLeast(1).optional(),
  maxMessageBytes: atLeast(1).optional(),
  maxConnections: atLeast(1).optional(),
  maxConnectionsPerAddress: atLeast(1).optional(),
  messagesPerSecond: atLeast(0).optional(),
  messageBurst: atLeast(1).optional(),
  maxInFlightPerConnection: atLeast(1).optional(),
  /** Streaming pauses (and the node stops reading the socket) while more than this many bytes wait to be sent. */
  sendHighWaterMark: atLeast(1).optional(),
  /** A peer whose unsent bytes stay above sendHighWaterMark this long is disconnected and its work cancelled. */
  stuckPeerTimeoutMs: atLeast(1).optional(),
  // model pipeline
  maxSessions: atLeast(1).optional(),
  sessionIdleMs: atLeast(1).optional(),
  /** Key/value cache budget: running generations reserve (prompt + max_tokens) tokens' worth; what does not fit waits. */
  maxCacheBytes: atLeast(1).optional(),
  /** Sequences one batched decode run serves per model; more generations wait in the queue. */
  maxBatchSize: atLeast(1).optional(),
  /** @deprecated former name of maxBatchSize (maxBatchSize wins when both are set). */
  maxConcurrentGenerations: atLeast(1).optional(),
  /** Prompt tokens fed per scheduler iteration (long prompts in chunks of this size). */
  prefillChunkTokens: atLeast(1).optional(),
  maxQueuedGenerations: atLeast(0).optional(),
  /** Ceiling on generated tokens per request (inference max_tokens above it is VALIDATION_FAILED). */
  maxTokens: atLeast(1).optional(),
  // messages
  maxPromptChars: atLeast(1).optional(),
  maxInputTokens: atLeast(1).optional(),
});

/** wss://: PEM certificate (chain) and private key files. Relative paths in a config file are relative to it. */
export const tlsConfigSchema = z.strictObject({
  certFile: nonEmpty("file path"),
  keyFile: nonEmpty("file path"),
});

export const legacyConfigSchema = z.strictObject({
  /** Model legacy steps run on. Default: the first model. */
  modelId: nonEmpty().optional(),
  sessionScope: z.enum(["global", "connection"], { error: 'expected "global" or "connection"' }).default("global"),
  maxSessionsPerConnection: atLeast(1).optional(),
});

export const inferenceConfigSchema = z.strictObject({
  defaults: z
    .strictObject({
      maxTokens: atLeast(1).optional(),
      temperature: z.number().min(0).max(2).optional(),
      topP: z.number().gt(0).max(1).optional(),
      topK: atLeast(0).optional(),
    })
    .default({}),
});

export const modelNodeConfigSchema = z
  .strictObject({
    port: intBetween(0, 65535).default(DEFAULT_PORT),
    /** Default: all interfaces. */
    host: nonEmpty("host name or address").optional(),
    nodeId: nonEmpty().max(128).optional(),
    logLevel: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(", ")}` }).default("info"),
    /** ONNX Runtime intra-op threads per model (default: the CPUs, at most 4). */
    threads: intBetween(1, 256).optional(),
    /** Let ONNX Runtime's threads spin while waiting for work (default false). */
    spinning: z.boolean({ error: "expected true or false" }).optional(),
    /** How long SIGTERM/SIGINT lets in-flight requests finish before cancelling them. */
    shutdownTimeoutMs: atLeast(0).default(10_000),
    /** Server ping period (core default 25 000, the field's node). */
    pingIntervalMs: atLeast(1).optional(),
    /** A peer that has not answered a ping within this is disconnected (core default 30 000). */
    pingTimeoutMs: atLeast(1).optional(),
    /** Serve wss:// with this certificate and key. Default: plain ws://. */
    tls: tlsConfigSchema.optional(),
    /** When set, WebSocket upgrades whose Origin header is not listed are refused with 403 ("" admits clients that send none). */
    allowedOrigins: z.array(z.string({ error: "expected a string" }).max(2048)).optional(),
    /** Model id (what clients send as model_id) → model directory (Hugging Face ONNX layout). */
    models: z
      .record(nonEmpty("model id").max(256), nonEmpty("model directory"))
      .refine((models) => Object.keys(models).length > 0, { error: "expected at least one model" })
      .default({ [DEFAULT_MODEL_ID]: BUNDLED_MODEL_DIR, [GUIDE_MODEL_ID]: BUNDLED_MODEL_DIR }),
    auth: authConfigSchema.default({ required: false, keyHashes: [], exemptLegacy: true }),
    limits: limitsConfigSchema.default({}),
    legacy: legacyConfigSchema.default({ sessionScope: "global" }),
    inference: inferenceConfigSchema.default({ defaults: {} }),
  })
  .superRefine((config, ctx) => {
    if (config.auth.required && config.auth.keyHashes.length === 0) {
      ctx.addIssue({ code: "custom", path: ["auth", "keyHashes"], message: "expected at least one key hash when auth.required is true" });
    }
    const maxTokens = config.limits.maxTokens ?? ONNX_DEFAULTS.maxTokensCeiling;
    if ((config.inference.defaults.maxTokens ?? 0) > maxTokens) {
      ctx.addIssue({ code: "custom", path: ["inference", "defaults", "maxTokens"], message: `expected at most limits.maxTokens (${maxTokens})` });
    }
    if (config.legacy.modelId !== undefined && !(config.legacy.modelId in config.models)) {
      ctx.addIssue({ code: "custom", path: ["legacy", "modelId"], message: `expected one of the configured models (${Object.keys(config.models).join(", ")})` });
    }
  });

/** A validated configuration, defaults filled in. */
export type ModelNodeConfig = z.output<typeof modelNodeConfigSchema>;
/** What a config file (or createModelNode's caller) may give: every field optional. */
export type ModelNodeConfigInput = z.input<typeof modelNodeConfigSchema>;
