#!/usr/bin/env node
/**
 * `model-node`: runs the example node (see README.md). Configuration problems are reported as
 * "config error: <field>: <what was expected>" before anything listens, with exit code 2.
 * SIGTERM/SIGINT close the node gracefully and exit 0 (a second signal exits at once with 130). Errors that escape everything else:
 * see process-handlers.ts (an unhandled rejection is logged and the node keeps serving; an
 * uncaught exception is logged, the node closes gracefully, exit code 1).
 *
 * Logs (log.ts): pretty at a terminal, JSON lines otherwise (MODELNODE_LOG_FORMAT=json|pretty),
 * at info a line per generation and per failed request (request-log.ts), written so that a
 * reader going away (`| tee` exiting) never keeps the process from exiting.
 */
import { PIPELINE } from "@modelnode/core";
import { tracesUrl } from "@modelnode/plugin-tracing/options";
import { closeOnSignals, type ModelNode } from "@modelnode/core/server";
import { ConfigError } from "./config-error.js";
import { extraPlugins } from "./extra-plugins.js";
import { loadConfig, USAGE } from "./load-config.js";
import { chooseLogFormat, createCliLogger, type LogFormat } from "./log.js";
import { requestLogPlugin } from "./request-log.js";
import { createModelPipeline, startModelNode } from "./model-node.js";
import { natsConnectOptions } from "./nats-config.js";
import type { SessionStoreConfig } from "./session-store-config.js";
import { DEFAULT_OPTIONS as ONNX_DEFAULTS } from "@modelnode/onnx";
import { connectNats, JETSTREAM_STORE_DEFAULTS, redactServers, startWorker } from "@modelnode/nats";
import { installProcessHandlers } from "./process-handlers.js";

async function main(): Promise<number | undefined> {
  ignoreBrokenPipes();
  // `pull`: @modelnode/hub's CLI (docs/models.md, "Pulling from the Hub"); loaded only for it.
  if (process.argv[2] === "pull") return (await import("@modelnode/hub/cli")).runPullCli(process.argv.slice(3));
  let loaded;
  let format: LogFormat;
  try {
    // extra-plugins.ts's plugins: their options are validated with the rest of the config.
    loaded = loadConfig({ argv: process.argv.slice(2), plugins: extraPlugins });
    format = chooseLogFormat();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  if (loaded === "help") {
    console.log(USAGE);
    return 0;
  }
  const { config } = loaded;
  if (config.role === "worker") return runWorker(config, format);
  const where = `port ${config.port} (${config.host ? `on ${config.host}` : "all interfaces"})`;
  let node;
  let address;
  try {
    const logger = createCliLogger({ level: config.logLevel, format });
    // The port is bound before the models load: a port in use is reported at once, and probes
    // (/livez, /readyz "starting") answer while loading.
    ({ node, ...address } = await startModelNode(config, { logger, plugins: [...extraPlugins, requestLogPlugin()] }, ({ port }) =>
      console.error(
        config.role === "gateway"
          ? `port ${port} bound; connecting to NATS at ${redactServers(config.nats ?? "")} (the models come from its workers${storeText(config.sessionStore)}) ...`
          : `port ${port} bound; loading models (${modelsText(config)}) ...`,
      ),
    ));
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    if (err.code === "EADDRINUSE") {
      console.error(`startup error: ${where} is already in use; choose another with --port N (or PORT=N, or "port" in the config file)`);
      return 1;
    }
    console.error(`startup error: ${err.message}`);
    return error instanceof ConfigError ? 2 : 1;
  }
  installProcessHandlers(node);
  // Before the "listening" line: whoever reads it may signal at once, and a signal without a handler kills the process.
  closeOnSignals(node, {
    onSignal: (signal, again) =>
      console.error(again ? `${signal} again: exiting without waiting` : `${signal}: closing (in-flight requests get up to ${config.shutdownTimeoutMs} ms)`),
    onCloseError: (error) => console.error(`error while closing: ${(error as Error).message}`),
  });
  const shownHost = address.host === "::" || address.host === "0.0.0.0" ? "localhost" : address.host;
  // One line for people (and scripts) waiting for the node, on stderr; logs go to stdout.
  console.error(
    `model node ${node.nodeId} listening on ${config.tls ? "wss" : "ws"}://${shownHost.includes(":") ? `[${shownHost}]` : shownHost}:${address.port}` +
      ` (models: ${modelList(node)}; auth ${config.auth.required ? "required" : "off"}` +
      `${extraPlugins.length > 0 ? `; extra plugins: ${extraPlugins.map((p) => p.name).join(", ")}` : ""})`,
  );
  const base = `${config.tls ? "https" : "http"}://${shownHost.includes(":") ? `[${shownHost}]` : shownHost}:${address.port}`;
  if (config.playground.enabled) console.error(`playground: ${base}${config.playground.path}`);
  if (config.openai.enabled) console.error(`OpenAI API: ${base}/v1`);
  if (config.ollama.enabled) console.error(`Ollama API: ${base}/api (OLLAMA_HOST=${base})`);
  if (config.anthropic.enabled) console.error(`Anthropic API: ${base}/v1/messages`);
  if (config.tracing.endpoint) console.error(`traces: OTLP/HTTP to ${tracesUrl(config.tracing.endpoint)} (service.name ${config.tracing.serviceName})`);
  return undefined;
}

/**
 * --role worker: no port; runs the ONNX pipeline for the gateways on NATS (docs/scale-out.md).
 * SIGTERM/SIGINT drain it: running generations get shutdownTimeoutMs to finish, the rest go back
 * to their gateways, which continue them on another worker.
 */
async function runWorker(config: Parameters<typeof createModelPipeline>[0], format: LogFormat): Promise<number | undefined> {
  const logger = createCliLogger({ level: config.logLevel, format });
  let worker;
  let pipeline;
  try {
    // NATS first: wrong credentials or TLS settings fail in a moment, not after the models have loaded.
    await (await connectNats({ ...natsConnectOptions(config), name: "modelnode-worker-check" })).close();
    pipeline = await createModelPipeline(config, config.limits.maxTokens ?? ONNX_DEFAULTS.maxTokensCeiling, logger);
    worker = await startWorker({
      ...natsConnectOptions(config),
      pipeline,
      name: config.nodeId?.replace(/[^A-Za-z0-9_-]/g, "_"),
      maxInFlight: (config.limits.maxBatchSize ?? config.limits.maxConcurrentGenerations ?? 4) + (config.limits.maxQueuedGenerations ?? 0),
      logger: logger.child({ component: "nats-worker" }),
    });
  } catch (error) {
    console.error(`startup error: ${(error as Error).message}`);
    // The loaded models' threads would keep the process alive (NATS refused it after all, or went away).
    await pipeline?.close().catch(() => {});
    return 1;
  }
  // The same signal rules as the node's (one event may arrive as several signals; a later one exits at once).
  closeOnSignals(
    { close: () => worker.drain(config.shutdownTimeoutMs) },
    {
      onSignal: (signal, again) =>
        console.error(
          again
            ? `${signal} again: exiting without waiting`
            : `${signal}: draining (running generations get up to ${config.shutdownTimeoutMs} ms, the rest go back to their gateways)`,
        ),
    },
  );
  console.error(`model worker ${worker.id} connected to ${redactServers(config.nats ?? "")} (models: ${modelsText(config)})`);
  // A worker serves no requests: the gateways' spans cover them (their generations included).
  if (config.tracing.endpoint) console.error("tracing: a worker exports no traces; set it on the gateways");
  return undefined;
}

/** Where a gateway keeps legacy sessions, when not in its own memory. */
function storeText(store: SessionStoreConfig): string {
  return store.kind === "jetstream" ? `; legacy sessions in the JetStream KV bucket ${store.bucket ?? JETSTREAM_STORE_DEFAULTS.bucket}` : "";
}

/** The configured models' ids, and the models directory served on demand. */
function modelsText(config: Parameters<typeof createModelPipeline>[0]): string {
  return [...Object.keys(config.models), ...(config.modelsDir ? [`on demand from ${config.modelsDir}`] : [])].join(", ");
}

/** "tiny-gpt2, test_model (= tiny-gpt2)": the ids served, aliases of one load marked as such (a gateway: those its workers announced so far). */
function modelList(node: ModelNode): string {
  const pipeline = node.container.resolve(PIPELINE);
  const models = pipeline.listModels().map((m) => (m.aliasOf ? `${m.id} (= ${m.aliasOf})` : m.id));
  // A gateway started before its workers: it serves once one announces a model (/readyz says so).
  if (models.length === 0 && pipeline.dynamicModels) return "none yet, waiting for a worker to announce a model";
  return models.join(", ");
}

/**
 * A reader of stdout or stderr that goes away (`| tee` or `| head` exiting, a closed terminal) is
 * not a bug in the node: without a listener, the EPIPE of the next write to process.stderr (the
 * "SIGINT: closing" line) is an uncaught exception, and a clean shutdown would become exit 1.
 */
function ignoreBrokenPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
    });
  }
}

main().then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
