/**
 * createModelNode(config): the example node. The ONNX pipeline is created first (inside
 * pipelinePlugin, with the node's logger) and bound to PIPELINE, then decorated by the metrics
 * and (when configured) tracing plugins; heartbeat, auth, legacy and inference plugins use it
 * through DI, and so may the extra plugins (extra-plugins.ts), which come last with their options
 * from the config's `plugins` section.
 */
import { readFileSync } from "node:fs";
import { DEFAULT_MAX_TOKENS, type Logger, type NodeLimits, type Plugin } from "@modelnode/core";
import { createNode, pipelinePlugin, startNode, type ModelNode, type NodeOptions, type TlsOptions } from "@modelnode/core/server";
import { createModelsDirPipeline, createOnnxPipeline, DEFAULT_OPTIONS as ONNX_DEFAULTS } from "@modelnode/onnx";
import { authPlugin } from "@modelnode/plugin-auth";
import { heartbeatPlugin } from "@modelnode/plugin-heartbeat";
import { INFERENCE_DEFAULTS, inferencePlugin, resolveInferenceOptions } from "@modelnode/plugin-inference";
import { natsPipeline } from "@modelnode/nats";
import { natsConnectOptions } from "./nats-config.js";
import { sessionStoreOptions } from "./session-store-config.js";
import { hubFetcher } from "./pull-on-demand.js";
import { legacyPlugin } from "@modelnode/plugin-legacy";
import { ollamaPlugin } from "@modelnode/plugin-ollama";
import { anthropicPlugin } from "@modelnode/plugin-anthropic";
import { OPENAI_DEFAULTS, openaiPlugin } from "@modelnode/plugin-openai";
import { metricsPlugin } from "@modelnode/plugin-metrics";
import { playgroundPlugin } from "@modelnode/plugin-playground";
import { configSchemaFor, metricsOptionsOf, type ModelNodeConfig, type ModelNodeConfigInput } from "./config.js";
import { ConfigError } from "./config-error.js";
import { extraPlugins } from "./extra-plugins.js";
import { createExtraPlugins, type ExtraPlugin } from "./plugin-entry.js";

/** What an embedder may give besides the config (things that are not data). */
export interface ModelNodeRuntime {
  /** A pino logger to log to instead of stdout at `config.logLevel` (e.g. to capture logs). */
  logger?: Logger;
  /**
   * Plugins composed after the built-in ones. Entries (`{ name, options, create }`) get their
   * options from the config's `plugins.<name>`; ready-made plugins are used as they are.
   * Default: the list in extra-plugins.ts (what `npm start` runs). Giving a list replaces it.
   */
  plugins?: readonly ExtraPlugin[];
}

/** Validates `input` (defaults filled in; ConfigError when invalid) and composes the node. Call `listen()` on it. */
export async function createModelNode(input: ModelNodeConfigInput = {}, runtime: ModelNodeRuntime = {}): Promise<ModelNode> {
  return createNode(await modelNodeOptions(input, runtime));
}

/**
 * Validates `input`, binds the port, then loads the models and serves (core's startNode): a port
 * in use is reported in milliseconds, and while the models load the port answers /livez 200 and
 * /readyz 503 {"status":"starting"}. What the CLI (`npm start`) does.
 */
export async function startModelNode(
  input: ModelNodeConfigInput = {},
  runtime: ModelNodeRuntime = {},
  onListening?: (address: { port: number; host: string }) => void,
): Promise<{ node: ModelNode; port: number; host: string }> {
  return startNode(await modelNodeOptions(input, runtime), onListening);
}

/** The node options of the example node for a config (validated here). */
async function modelNodeOptions(input: ModelNodeConfigInput, runtime: ModelNodeRuntime): Promise<NodeOptions> {
  const extras = runtime.plugins ?? extraPlugins;
  const parsed = configSchemaFor(extras).safeParse(input);
  if (!parsed.success) throw ConfigError.fromZod(parsed.error);
  const config = parsed.data;
  const tls = readTls(config);
  const { limits } = config;
  // One ceiling for both: a max_tokens the pipeline would clamp is refused up front instead.
  const maxTokens = limits.maxTokens ?? ONNX_DEFAULTS.maxTokensCeiling;
  // Made before anything starts, so that a plugin refusing its options costs no model loading.
  const userPlugins = await createExtraPlugins(extras, config.plugins);
  const tracing = await tracingPlugins(config);
  const inference = {
    ...config.inference,
    maxPromptChars: limits.maxPromptChars,
    maxTokensLimit: maxTokens,
    maxTopLogprobs: limits.maxTopLogprobs,
    maxLogitBias: limits.maxLogitBias,
    defaults: clampDefaults(config, maxTokens),
  };
  // If a plugin fails to register, createNode runs the close hooks of those before it (the pipeline's included).
  return {
    port: config.port,
    host: config.host,
    nodeId: config.nodeId,
    logLevel: config.logLevel,
    logger: runtime.logger,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    pingIntervalMs: config.pingIntervalMs,
    pingTimeoutMs: config.pingTimeoutMs,
    tls,
    allowedOrigins: config.allowedOrigins,
    allowedHosts: config.allowedHosts,
    limits: coreLimits(config),
    plugins: [
      config.role === "gateway"
        ? pipelinePlugin(natsPipeline({ ...natsConnectOptions(config), sessionStore: sessionStoreOptions(config.sessionStore) }))
        : pipelinePlugin((logger) => createModelPipeline(config, maxTokens, logger)),
      // Right after the pipeline: it instruments the pipeline the plugins below are given (docs/operations.md, "Metrics").
      ...(config.metrics.enabled ? [metricsPlugin(metricsOptionsOf(config.metrics))] : []),
      // After them: the plugins below get the pipeline it traces (docs/tracing.md).
      ...tracing,
      heartbeatPlugin(),
      authPlugin(config.auth),
      legacyPlugin({ ...config.legacy, maxInputTokens: limits.maxInputTokens }),
      inferencePlugin(inference),
      ...(config.openai.enabled ? [openaiPlugin(openaiOptions(config, maxTokens))] : []),
      ...(config.ollama.enabled ? [ollamaPlugin(ollamaOptions(config, maxTokens))] : []),
      ...(config.anthropic.enabled ? [anthropicPlugin(anthropicOptions(config, maxTokens))] : []),
      // The page shows the inference plugin's defaults and limits (it sends only what the user fills in).
      ...(config.playground.enabled ? [playgroundPlugin({ ...config.playground, inference: resolveInferenceOptions(inference) })] : []),
      ...userPlugins,
    ],
  };
}

/**
 * tracingPlugin when `tracing.endpoint` is set; otherwise nothing, and the plugin's package (with
 * the OpenTelemetry SDK) is not even loaded: a node without tracing pays nothing for it.
 */
async function tracingPlugins({ tracing }: ModelNodeConfig): Promise<Plugin[]> {
  if (tracing.endpoint === undefined) return [];
  const { tracingPlugin } = await import("@modelnode/plugin-tracing");
  return [tracingPlugin(tracing)];
}

function coreLimits({ limits }: ModelNodeConfig): Partial<NodeLimits> {
  return {
    maxPayloadBytes: limits.maxPayloadBytes,
    maxMessageBytes: limits.maxMessageBytes,
    maxConnections: limits.maxConnections,
    maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
    messagesPerSecond: limits.messagesPerSecond,
    messageBurst: limits.messageBurst,
    maxInFlightPerConnection: limits.maxInFlightPerConnection,
    sendHighWaterMark: limits.sendHighWaterMark,
    stuckPeerTimeoutMs: limits.stuckPeerTimeoutMs,
  };
}

/** The PEM files named by `tls`, read before anything starts; an unreadable one is a config error. */
function readTls({ tls }: ModelNodeConfig): TlsOptions | undefined {
  if (!tls) return undefined;
  const read = (field: "certFile" | "keyFile") => {
    try {
      return readFileSync(tls[field]);
    } catch (error) {
      throw new ConfigError(`tls.${field}: cannot read ${tls[field]}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  return { cert: read("certFile"), key: read("keyFile") };
}

/** A lowered token ceiling also lowers the default max_tokens, so the two never conflict. */
function clampDefaults({ inference }: ModelNodeConfig, maxTokens: number) {
  return { ...inference.defaults, maxTokens: inference.defaults.maxTokens ?? Math.min(maxTokens, INFERENCE_DEFAULTS.maxTokens) };
}

/** openaiPlugin's options: its config section, with the prompt and token limits the inference plugin gets. */
function openaiOptions({ openai: { enabled: _enabled, ...options }, limits }: ModelNodeConfig, maxTokens: number) {
  const defaults = { ...options.defaults, maxTokens: options.defaults.maxTokens ?? Math.min(maxTokens, OPENAI_DEFAULTS.maxTokens) };
  const { maxPromptChars, maxTopLogprobs, maxLogitBias } = limits;
  return { ...options, maxPromptChars, maxTokensLimit: maxTokens, maxTopLogprobs, maxLogitBias, defaults };
}

/** ollamaPlugin's options: its config section, with the prompt, token and top_logprobs limits the inference plugin gets. */
function ollamaOptions({ ollama: { enabled: _enabled, ...options }, limits }: ModelNodeConfig, maxTokens: number) {
  const defaults = { ...options.defaults, maxTokens: options.defaults.maxTokens ?? Math.min(maxTokens, DEFAULT_MAX_TOKENS) };
  return { ...options, maxPromptChars: limits.maxPromptChars, maxTokensLimit: maxTokens, maxTopLogprobs: limits.maxTopLogprobs, defaults };
}

/** anthropicPlugin's options: its config section, with the token ceiling the other doors get. */
function anthropicOptions({ anthropic: { enabled: _enabled, ...options } }: ModelNodeConfig, maxTokens: number) {
  return { ...options, maxTokensLimit: maxTokens };
}

/** The ONNX pipeline's options for a config (single process, or a worker). */
export function onnxOptions(config: ModelNodeConfig, maxTokens: number, logger: Logger) {
  const { limits } = config;
  return {
    models: config.models,
    threads: config.threads,
    spinning: config.spinning,
    prefixCache: config.prefixCache,
    prefixCacheBlockTokens: limits.prefixCacheBlockTokens,
    prefixCacheShare: limits.prefixCacheShare,
    maxSessions: limits.maxSessions,
    sessionIdleMs: limits.sessionIdleMs,
    maxCacheBytes: limits.maxCacheBytes,
    maxBatchSize: limits.maxBatchSize ?? limits.maxConcurrentGenerations,
    prefillChunkTokens: limits.prefillChunkTokens,
    maxQueuedGenerations: limits.maxQueuedGenerations,
    maxTokensCeiling: maxTokens,
    maxTopLogprobs: limits.maxTopLogprobs,
    maxLogitBias: limits.maxLogitBias,
    maxGrammarBytes: limits.maxGrammarBytes,
    maxGrammarRepetition: limits.maxGrammarRepetition,
    maxGrammarAlternatives: limits.maxGrammarAlternatives,
    grammarCompileTimeoutMs: limits.grammarCompileTimeoutMs,
    grammarCacheSize: limits.grammarCacheSize,
    jsonMaxWhitespace: limits.jsonMaxWhitespace,
    maxTools: limits.maxTools,
    ...(config.speculative ? { speculative: config.speculative } : {}),
    logger: logger.child({ component: "onnx" }),
  };
}

/**
 * The ONNX pipeline for a config: with a models directory, its models load on demand and unload
 * when idle (docs/models.md, "A models directory"); without, the configured models load at start.
 */
export function createModelPipeline(config: ModelNodeConfig, maxTokens: number, logger: Logger) {
  const options = onnxOptions(config, maxTokens, logger);
  if (config.modelsDir === undefined) return createOnnxPipeline(options);
  const { keepAlive, maxLoadedModels, memoryBudget, loadTimeout } = config.modelLifecycle;
  const fetchModel = config.pullOnDemand.enabled ? hubFetcher(config.pullOnDemand, config.modelsDir, logger) : undefined;
  return createModelsDirPipeline({ ...options, modelsDir: config.modelsDir, keepAliveMs: keepAlive, maxLoadedModels, memoryBudgetBytes: memoryBudget, loadTimeoutMs: loadTimeout, fetchModel });
}
