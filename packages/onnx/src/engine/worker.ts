/**
 * The engine thread's entry point (a `worker_threads` Worker started by createOnnxPipeline):
 * loads the models, says "ready" (or "failed", with the error), then hands every message to the
 * engine. onnxruntime-node's `run()` blocks the thread it runs on; here, that is this thread.
 */
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { resolve } from "node:path";
import { loadModel, type LoadedModel } from "../loaded-model.js";
import type { PipelineLogger } from "../logger.js";
import type { ResolvedOptions } from "../options.js";
import { Engine } from "./engine.js";
import { installRunGuard } from "./run-guard.js";
import { serializeError, type FromEngine, type ToEngine } from "./protocol.js";

export type EngineOptions = Omit<ResolvedOptions, "logger"> & { runFlags: Int32Array };

const port = parentPort!;
const send = (message: FromEngine) => port.postMessage(message);

/** Log lines go to the main thread's logger; errors travel as plain data. */
const logger: PipelineLogger = {
  debug: (obj, msg) => send({ type: "log", level: "debug", obj: loggable(obj), msg }),
  info: (obj, msg) => send({ type: "log", level: "info", obj: loggable(obj), msg }),
  warn: (obj, msg) => send({ type: "log", level: "warn", obj: loggable(obj), msg }),
  error: (obj, msg) => send({ type: "log", level: "error", obj: loggable(obj), msg }),
};

function loggable(obj: object): object {
  const err = (obj as { err?: unknown }).err;
  return err instanceof Error ? { ...obj, err: serializeError(err) } : obj;
}

async function start(options: EngineOptions): Promise<void> {
  installRunGuard(options.runFlags);
  const models = new Map<string, LoadedModel>();
  try {
    for (const [id, dir] of Object.entries(options.models)) {
      models.set(id, await loadModel(id, resolve(dir), { threads: options.threads, spinning: options.spinning, sessionOptions: options.sessionOptions, logger }));
    }
  } catch (error) {
    for (const model of models.values()) await model.session.release();
    send({ type: "failed", error: serializeError(error) });
    return;
  }
  const engine = new Engine(models, options, logger, send, () => {
    const messages: ToEngine[] = [];
    for (let next = receiveMessageOnPort(port); next; next = receiveMessageOnPort(port)) messages.push(next.message as ToEngine);
    return messages;
  });
  port.on("message", (message: ToEngine) => engine.handle(message));
  send({ type: "ready", models: [...models.values()].map((model) => model.info) });
}

void start(workerData as EngineOptions);
