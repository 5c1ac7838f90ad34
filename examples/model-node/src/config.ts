/**
 * The example node's configuration: one zod schema for the JSON file, environment variables and
 * command-line flags alike. The plugins' sections are composed from the plugins' own option
 * schemas (their rules and defaults live there, not here); `plugins` holds the options of the
 * plugins listed in extra-plugins.ts. Objects are strict, so a misspelt key is an error naming
 * it rather than a setting silently ignored.
 */
import { fileURLToPath } from "node:url";
import { z } from "@modelnode/core";
import { DEFAULT_PORT, nodeLimitsSchema } from "@modelnode/core/server";
import { MODEL_DTYPES, DEFAULT_OPTIONS as ONNX_DEFAULTS } from "@modelnode/onnx";
import { authOptionsSchema } from "@modelnode/plugin-auth";
import { inferenceDefaultsSchema, inferenceOptionsSchema } from "@modelnode/plugin-inference";
import { legacyOptionsSchema } from "@modelnode/plugin-legacy";
import { ollamaDefaultsSchema, ollamaOptionsSchema } from "@modelnode/plugin-ollama";
import { anthropicOptionsSchema } from "@modelnode/plugin-anthropic";
import { openaiDefaultsSchema, openaiOptionsSchema } from "@modelnode/plugin-openai";
import { metricsOptionsSchema, type MetricsOptions } from "@modelnode/plugin-metrics";
import { playgroundOptionsSchema } from "@modelnode/plugin-playground";
// Only the options' schema (no OpenTelemetry): model-node.ts imports the plugin when tracing is on.
import { tracingConfigSchema } from "@modelnode/plugin-tracing/options";
import { extraPlugins } from "./extra-plugins.js";
import { lifecycleConfigSchema } from "./lifecycle-config.js";
import { pullOnDemandConfigSchema } from "./pull-on-demand.js";
import { pluginEntries, type ExtraPlugin } from "./plugin-entry.js";
import { natsAuthConfigSchema, natsTlsConfigSchema } from "./nats-config.js";
import { sessionStoreConfigSchema } from "./session-store-config.js";

/** `<repo>/models/tiny-gpt2`, the bundled model (this file is at examples/model-node/{src,dist/src}). */
export const BUNDLED_MODEL_DIR = fileURLToPath(new URL("../../../../models/tiny-gpt2", import.meta.url));
export const DEFAULT_MODEL_ID = "tiny-gpt2";
/**
 * The model id the integration guide's own example client asks for. The default config serves
 * the bundled model under it too, so that client works unchanged against `npm start`.
 */
export const GUIDE_MODEL_ID = "test_model";

/** Served when the config names no models and no models directory. */
const DEFAULT_MODELS = { [DEFAULT_MODEL_ID]: BUNDLED_MODEL_DIR, [GUIDE_MODEL_ID]: BUNDLED_MODEL_DIR };

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const intBetween = (min: number, max: number) => {
  const message = `expected integer between ${min} and ${max}`;
  return z.int({ error: message }).min(min, { error: message }).max(max, { error: message });
};
const atLeast = (min: number) => {
  const message = `expected integer ≥ ${min}`;
  return z.int({ error: message }).min(min, { error: message });
};
const nonEmpty = (what = "non-empty string") => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });

const auth = authOptionsSchema.shape;
/** authPlugin's options, but open by default and with the secret as text (JSON has no bytes). */
export const authConfigSchema = authOptionsSchema.extend({
  /** Refuse messages other than heartbeat/authentication (and legacy, see exemptLegacy) until authenticated. */
  required: auth.required.unwrap().default(false),
  keyHashes: auth.keyHashes.default([]),
  /** HMAC secret for license_hash (≥ 32 characters). Default: random per start. */
  secret: z.string({ error: "expected a string" }).min(32, { error: "expected at least 32 characters" }).optional(),
});

/** The pipeline's limits (the ONNX pipeline's options; defaults in @modelnode/onnx's DEFAULT_OPTIONS). */
const pipelineLimits = {
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
  /** Prefix cache (top-level prefixCache turns it off): tokens per cached block, and the most of maxCacheBytes the blocks may hold. */
  prefixCacheBlockTokens: atLeast(1).max(1024, { error: "expected an integer from 1 to 1024" }).optional(),
  prefixCacheShare: z.number({ error: "expected a number from 0 to 1" }).min(0, { error: "expected a number from 0 to 1" }).max(1, { error: "expected a number from 0 to 1" }).optional(),
  maxQueuedGenerations: atLeast(0).optional(),
  /** Ceiling on generated tokens per request (inference max_tokens above it is VALIDATION_FAILED). */
  maxTokens: atLeast(1).optional(),
  /** Largest top_logprobs (the completions' logprobs) a request may ask for: the pipeline's and both APIs'. */
  maxTopLogprobs: atLeast(0).optional(),
  /** Most tokens in a request's logit_bias: the pipeline's and both APIs'. */
  maxLogitBias: atLeast(0).optional(),
  /** Structured output (docs/structured-output.md): a grammar's size in bytes, repetition counts, alternatives. */
  maxGrammarBytes: atLeast(1).optional(),
  maxGrammarRepetition: atLeast(1).optional(),
  maxGrammarAlternatives: atLeast(1).optional(),
  /** How long one grammar may take to compile (ms) before the request fails. */
  grammarCompileTimeoutMs: atLeast(1).optional(),
  /** Compiled grammars kept for reuse. */
  grammarCacheSize: atLeast(1).optional(),
  /** Whitespace characters allowed between JSON tokens (0: compact JSON). */
  jsonMaxWhitespace: atLeast(0).max(64, { error: "expected an integer from 0 to 64" }).optional(),
  /** Most tools (functions) one request may offer (tool calling). */
  maxTools: atLeast(1).optional(),
};

/** Core's limits (WebSocket layer and dispatch), the pipeline's, and the message plugins' size limits. */
export const limitsConfigSchema = nodeLimitsSchema.extend({
  ...pipelineLimits,
  /** inferencePlugin's (and openaiPlugin's) maxPromptChars. */
  maxPromptChars: inferenceOptionsSchema.shape.maxPromptChars.unwrap().optional(),
  /** legacyPlugin's maxInputTokens. */
  maxInputTokens: legacyOptionsSchema.shape.maxInputTokens.unwrap().optional(),
});

/** wss://: PEM certificate (chain) and private key files. Relative paths in a config file are relative to it. */
export const tlsConfigSchema = z.strictObject({
  certFile: nonEmpty("file path"),
  keyFile: nonEmpty("file path"),
});

/** legacyPlugin's options (modelId: default the first model), less maxInputTokens, which is under limits. */
export const legacyConfigSchema = legacyOptionsSchema.omit({ maxInputTokens: true });

const inference = inferenceOptionsSchema.shape;
/**
 * inferencePlugin's options, less the two under limits (maxPromptChars; maxTokensLimit is
 * limits.maxTokens). An unset defaults.maxTokens follows limits.maxTokens down (see model-node.ts).
 */
export const inferenceConfigSchema = z.strictObject({
  maxStopSequences: inference.maxStopSequences,
  maxStopChars: inference.maxStopChars,
  defaults: inferenceDefaultsSchema.extend({ maxTokens: inferenceDefaultsSchema.shape.maxTokens.unwrap().optional() }).prefault({}),
});

/** metricsPlugin's options (GET /metrics, Prometheus), and a switch to leave it out. */
export const metricsConfigSchema = metricsOptionsSchema.extend({
  /** Serve /metrics (and time every generation for it). */
  enabled: z.boolean({ error: "expected true or false" }).default(true),
});

/** The `metrics` section less its switch: metricsPlugin's options. */
export function metricsOptionsOf({ enabled: _enabled, ...options }: z.output<typeof metricsConfigSchema>): MetricsOptions {
  return options;
}

const openai = openaiOptionsSchema.shape;
/**
 * openaiPlugin's options (the OpenAI-compatible HTTP API on the node's port), and whether to serve
 * it; less the two under limits, as for inference. An unset defaults.maxTokens follows limits.maxTokens down.
 */
export const openaiConfigSchema = z.strictObject({
  /** Serve /v1/models, /v1/completions, /v1/chat/completions and /v1/responses. Default true. */
  enabled: z.boolean({ error: "expected true or false" }).default(true),
  maxChatMessages: openai.maxChatMessages,
  maxChatChars: openai.maxChatChars,
  maxStopSequences: openai.maxStopSequences,
  maxStopChars: openai.maxStopChars,
  maxBodyBytes: openai.maxBodyBytes,
  ownedBy: openai.ownedBy,
  /** Serve vLLM's POST /tokenize and POST /detokenize too. Default true. */
  tokenizerRoutes: openai.tokenizerRoutes,
  maxChoices: openai.maxChoices,
  /** The Responses API's kept responses (previous_response_id, GET /v1/responses/{id}): how many, how many bytes. */
  maxStoredResponses: openai.maxStoredResponses,
  maxStoredResponseBytes: openai.maxStoredResponseBytes,
  defaults: openaiDefaultsSchema.extend({ maxTokens: openaiDefaultsSchema.shape.maxTokens.unwrap().optional() }).prefault({}),
});

const ollama = ollamaOptionsSchema.shape;
/**
 * ollamaPlugin's options (Ollama's HTTP API under /api/ on the node's port), and whether to serve
 * it; less the two under limits, as for openai. An unset defaults.maxTokens follows limits.maxTokens down.
 */
export const ollamaConfigSchema = z.strictObject({
  /** Serve /api/version, /api/tags, /api/ps, /api/show, /api/generate and /api/chat. Default true. */
  enabled: z.boolean({ error: "expected true or false" }).default(true),
  maxChatMessages: ollama.maxChatMessages,
  maxChatChars: ollama.maxChatChars,
  maxStopSequences: ollama.maxStopSequences,
  maxStopChars: ollama.maxStopChars,
  maxBodyBytes: ollama.maxBodyBytes,
  version: ollama.version,
  defaults: ollamaDefaultsSchema.extend({ maxTokens: ollamaDefaultsSchema.shape.maxTokens.unwrap().optional() }).prefault({}),
});

const anthropic = anthropicOptionsSchema.shape;
/**
 * anthropicPlugin's options (Anthropic's Messages API on the node's port), and whether to serve
 * it; its token ceiling is limits.maxTokens, as for inference and OpenAI.
 */
export const anthropicConfigSchema = z.strictObject({
  /** Serve /v1/messages and /v1/messages/count_tokens. Default true. */
  enabled: z.boolean({ error: "expected true or false" }).default(true),
  maxChatMessages: anthropic.maxChatMessages,
  maxChatChars: anthropic.maxChatChars,
  maxContentBlocks: anthropic.maxContentBlocks,
  maxTools: anthropic.maxTools,
  maxStopSequences: anthropic.maxStopSequences,
  maxStopChars: anthropic.maxStopChars,
  maxBodyBytes: anthropic.maxBodyBytes,
  defaults: anthropic.defaults,
});

/** The browser playground (GET / and /playground/*, see docs/playground.md): whether to serve it, and where. */
export const playgroundConfigSchema = playgroundOptionsSchema.pick({ enabled: true, path: true });

/**
 * `plugins`: one section per plugin entry, validated by that plugin's options schema; a missing
 * section is `{}`. A name no entry has is an error naming it.
 */
function pluginsConfigSchema(plugins: readonly ExtraPlugin[]) {
  const entries = pluginEntries(plugins);
  const names = entries.map((entry) => entry.name);
  const known = names.length > 0 ? `plugins with options here: ${names.join(", ")}` : "no plugin takes options here";
  const section = z.strictObject(Object.fromEntries(entries.map((entry) => [entry.name, entry.options.prefault({})])), {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown plugin${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((key) => `"${key}"`).join(", ")} (${known}; add one in src/extra-plugins.ts)`
        : undefined,
  });
  return (section as unknown as z.ZodType<Record<string, unknown>>).prefault({});
}

/** The whole configuration's schema, for a node whose extra plugins are `plugins`. */
export function configSchemaFor(plugins: readonly ExtraPlugin[] = extraPlugins) {
  return z
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
      /** Automatic prefix caching (default true; --no-prefix-cache): docs/engine.md, "Prefix cache". */
      prefixCache: z.boolean({ error: "expected true or false" }).optional(),
      /**
       * Speculative decoding by prompt lookup (docs/engine.md): method "ngram" or "off" (default);
       * at most maxDraftTokens guesses per run (default 4, 1–16); n-grams of maxNgram (default 4)
       * down to minNgram (default 2) tokens. Requests opt out with speculative: false.
       */
      speculative: z
        .strictObject({
          method: z.enum(["ngram", "off"], { error: "expected ngram or off" }).optional(),
          maxDraftTokens: intBetween(1, 16).optional(),
          minNgram: intBetween(1, 16).optional(),
          maxNgram: intBetween(1, 16).optional(),
          /** b/a of the run-cost model (0: extra positions are free); absent: measured. */
          positionCost: z.number({ error: "expected a number from 0 to 10" }).min(0).max(10).optional(),
        })
        .refine((s) => (s.minNgram ?? 2) <= (s.maxNgram ?? 4), { error: "minNgram must not exceed maxNgram (defaults 2 and 4)" })
        .optional(),
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
      /**
       * Host names, besides localhost and IP addresses, that requests arriving on a loopback
       * address may name in their Host header (the DNS rebinding guard); ["*"] turns it off.
       */
      allowedHosts: z.array(z.string({ error: "expected a string" }).min(1).max(253)).optional(),
      /**
       * single: this process serves its models itself (the default). gateway: a node whose model
       * work runs on NATS workers (needs nats). worker: no socket, runs the models for gateways
       * over NATS (needs nats). See docs/scale-out.md.
       */
      role: z.enum(["single", "gateway", "worker"], { error: "expected single, gateway or worker" }).default("single"),
      /** NATS server URL(s) for the gateway and worker roles, comma-separated (e.g. nats://127.0.0.1:4222). */
      nats: nonEmpty("NATS URL").optional(),
      /** How gateways and workers authenticate to NATS: user/pass, token, nkeySeedFile or credsFile (nats-config.ts). */
      natsAuth: natsAuthConfigSchema.optional(),
      /** TLS to NATS: caFile, and certFile/keyFile for mutual TLS. */
      natsTls: natsTlsConfigSchema.optional(),
      /** Gateway role: where legacy step sessions are kept, "memory" or a shared JetStream KV bucket (session-store-config.ts). */
      sessionStore: sessionStoreConfigSchema.prefault({}),
      /** Model id (what clients send as model_id) → model directory (Hugging Face ONNX layout). */
      /** Model id → its folder, or `{ dir, dtype }` to pick one of a transformers.js folder's graphs (docs/models.md). */
      models: z
        .record(
          nonEmpty("model id").max(256),
          z.union([nonEmpty("model directory"), z.strictObject({ dir: nonEmpty("model directory"), dtype: z.enum(MODEL_DTYPES, { error: `expected one of ${MODEL_DTYPES.join(", ")}` }).optional() })], {
            error: `expected a model directory, or { "dir": "...", "dtype": one of ${MODEL_DTYPES.join(", ")} }`,
          }),
        )
        // Default (below): the bundled model, unless a models directory is served.
        .optional(),
      /** Serve every model folder under this directory, each loaded on demand (docs/models.md, "A models directory"). */
      modelsDir: nonEmpty("directory").optional(),
      /** The models directory's keep-alive, cap, memory budget and load timeout. */
      modelLifecycle: lifecycleConfigSchema.prefault({}),
      /** Pull a Hub model the models directory lacks on its first request (docs/models.md, "Pulling on first request"). */
      pullOnDemand: pullOnDemandConfigSchema.prefault({}),
      auth: authConfigSchema.prefault({}),
      limits: limitsConfigSchema.prefault({}),
      legacy: legacyConfigSchema.prefault({}),
      inference: inferenceConfigSchema.prefault({}),
      openai: openaiConfigSchema.prefault({}),
      /** Ollama's API under /api/ (docs/plugin-ollama.md). */
      ollama: ollamaConfigSchema.prefault({}),
      /** Anthropic's Messages API at /v1/messages (docs/plugin-anthropic.md). */
      anthropic: anthropicConfigSchema.prefault({}),
      /** Prometheus metrics at GET /metrics (see docs/operations.md, "Metrics"). */
      metrics: metricsConfigSchema.prefault({}),
      /** OpenTelemetry traces over OTLP/HTTP, on when `endpoint` is set (docs/tracing.md). */
      tracing: tracingConfigSchema.prefault({}),
      /** The browser playground at GET / (docs/playground.md). */
      playground: playgroundConfigSchema.prefault({}),
      /** Options of the plugins listed in extra-plugins.ts (or given to createModelNode), by plugin name. */
      plugins: pluginsConfigSchema(plugins),
    })
    .superRefine((config, ctx) => {
      if (config.role !== "single" && config.nats === undefined) {
        ctx.addIssue({ code: "custom", path: ["nats"], message: `expected a NATS URL for role ${config.role}` });
      }
      if (config.sessionStore.kind !== "memory" && config.role !== "gateway") {
        ctx.addIssue({ code: "custom", path: ["sessionStore", "kind"], message: `expected role gateway for a ${config.sessionStore.kind} session store (the role is ${config.role})` });
      }
      if (config.auth.required && config.auth.keyHashes.length === 0) {
        ctx.addIssue({ code: "custom", path: ["auth", "keyHashes"], message: "expected at least one key hash when auth.required is true" });
      }
      const maxTokens = config.limits.maxTokens ?? ONNX_DEFAULTS.maxTokensCeiling;
      if ((config.inference.defaults.maxTokens ?? 0) > maxTokens) {
        ctx.addIssue({ code: "custom", path: ["inference", "defaults", "maxTokens"], message: `expected at most limits.maxTokens (${maxTokens})` });
      }
      if ((config.openai.defaults.maxTokens ?? 0) > maxTokens) {
        ctx.addIssue({ code: "custom", path: ["openai", "defaults", "maxTokens"], message: `expected at most limits.maxTokens (${maxTokens})` });
      }
      if ((config.ollama.defaults.maxTokens ?? 0) > maxTokens) {
        ctx.addIssue({ code: "custom", path: ["ollama", "defaults", "maxTokens"], message: `expected at most limits.maxTokens (${maxTokens})` });
      }
      if (config.models !== undefined && Object.keys(config.models).length === 0 && config.modelsDir === undefined) {
        ctx.addIssue({ code: "custom", path: ["models"], message: "expected at least one model (or a modelsDir)" });
      }
      if (config.pullOnDemand.enabled && config.modelsDir === undefined) {
        ctx.addIssue({ code: "custom", path: ["pullOnDemand", "enabled"], message: "expected a modelsDir to pull into (--models-dir)" });
      }
      if (config.role === "gateway" && config.modelsDir !== undefined) {
        ctx.addIssue({ code: "custom", path: ["modelsDir"], message: "expected no modelsDir for role gateway (its workers serve the models)" });
      }
      const models = config.models ?? (config.modelsDir !== undefined ? {} : DEFAULT_MODELS);
      if (config.legacy.modelId !== undefined && !(config.legacy.modelId in models) && config.modelsDir === undefined) {
        ctx.addIssue({ code: "custom", path: ["legacy", "modelId"], message: `expected one of the configured models (${Object.keys(models).join(", ")})` });
      }
    })
    .transform(({ models, ...config }) => ({
      ...config,
      models: models ?? (config.modelsDir !== undefined ? {} : DEFAULT_MODELS),
    }));
}

/** The configuration of the node `npm start` runs: its extra plugins are extra-plugins.ts's. */
export const modelNodeConfigSchema = configSchemaFor(extraPlugins);

/** A validated configuration, defaults filled in. */
export type ModelNodeConfig = z.output<typeof modelNodeConfigSchema>;
/** What a config file (or createModelNode's caller) may give: every field optional. */
export type ModelNodeConfigInput = z.input<typeof modelNodeConfigSchema>;
