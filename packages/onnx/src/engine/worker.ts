/**
 * The engine thread's entry point (a `worker_threads` Worker started by main/engine-thread.ts):
 * loads the models, says "ready" (or "failed", with the error), then hands every message to the
 * engine. onnxruntime-node's `run()` blocks the thread it runs on; here, that is this thread.
 */
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import type { EngineOptions, FromEngine, ToEngine } from "../messages/engine-protocol.js";
import { serializeError } from "../messages/errors.js";
import type { PipelineLogger } from "../shared/logger.js";
import { Engine } from "./engine.js";
import { loadModel, type LoadedModel } from "./loaded-model.js";
import { installRunGuard } from "./run-guard.js";

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
  // Ids naming the same folder are aliases of one load: the weights are in memory once, and
  // their requests share one batch.
  const byFolder = new Map<string, LoadedModel>();
  try {
    for (const [id, { dir, dtype }] of Object.entries(options.models)) {
      // One folder loaded as two dtypes is two models.
      const folder = `${realFolder(dir)}\0${dtype ?? ""}`;
      let model = byFolder.get(folder);
      if (!model) {
        model = await loadModel(id, resolve(dir), { dtype, threads: options.threads, spinning: options.spinning, sessionOptions: options.sessionOptions, logger });
        byFolder.set(folder, model);
      }
      models.set(id, model);
    }
  } catch (error) {
    for (const model of byFolder.values()) await model.session.release();
    send({ type: "failed", error: serializeError(error) });
    return;
  }
  const engine = new Engine(models, options, logger, send, () => {
    const messages: ToEngine[] = [];
    for (let next = receiveMessageOnPort(port); next; next = receiveMessageOnPort(port)) messages.push(next.message as ToEngine);
    return messages;
  });
  port.on("message", (message: ToEngine) => engine.handle(message));
  send({
    type: "ready",
    models: [...models].map(([id, model]) => (id === model.id ? model.info : { ...model.info, id, aliasOf: model.id })),
    samplingDefaults: Object.fromEntries([...models].map(([id, model]) => [id, model.samplingDefaults])),
  });
}

/** A model folder's identity: its real path (so "./m" and a symlink to it are one folder). */
function realFolder(dir: string): string {
  try {
    return realpathSync(resolve(dir));
  } catch {
    return resolve(dir);
  }
}

void start(workerData as EngineOptions);
