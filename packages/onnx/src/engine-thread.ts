/**
 * Starting the engine thread: a `worker_threads` Worker running engine/worker.js with the resolved
 * options, resolved once it has loaded every model (or rejected with the error it reported, e.g.
 * a `ModelLoadError` naming the file at fault).
 */
import { Worker } from "node:worker_threads";
import { ProtocolError, type ModelInfo } from "@modelnode/core/pipeline";
import { ModelLoadError } from "./model-files.js";
import type { ResolvedOptions } from "./options.js";
import type { FromEngine, SerializedError } from "./engine/protocol.js";
import { createRunFlags } from "./engine/run-guard.js";
import type { EngineOptions } from "./engine/worker.js";
import type { SamplingDefaults } from "./loaded-model.js";

export interface EngineThread {
  worker: Worker;
  /** Shared with the engine thread: see engine/run-guard.ts. */
  runFlags: Int32Array;
  models: ModelInfo[];
  /** Per model id: generation_config.json's sampling values (see loaded-model.ts). */
  samplingDefaults?: Record<string, SamplingDefaults>;
  /** Starts another engine with the same options (after this one died). */
  restart(): Promise<EngineThread>;
}

export function startEngineThread(options: ResolvedOptions): Promise<EngineThread> {
  const { logger, ...rest } = options;
  const runFlags = createRunFlags();
  const worker = new Worker(new URL("./engine/worker.js", import.meta.url), {
    workerData: { ...rest, runFlags } satisfies EngineOptions,
    name: "modelnode-engine",
  });
  return new Promise<EngineThread>((resolve, reject) => {
    const onMessage = (message: FromEngine) => {
      if (message.type === "log") logger[message.level](message.obj, message.msg);
      else if (message.type === "ready") {
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        resolve({ worker, runFlags, models: message.models, samplingDefaults: message.samplingDefaults, restart: () => startEngineThread(options) });
      } else if (message.type === "failed") {
        void worker.terminate();
        reject(deserializeError(message.error));
      }
    };
    const onError = (error: Error) => reject(error);
    const onExit = (code: number) => reject(new Error(`the model engine thread exited while starting (code ${code})`));
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
  });
}

/**
 * An error from another thread (the engine's or the tokenizer's) as the classes callers check
 * for: a coded error becomes a `ProtocolError` with its code, message and details (so core sends
 * it to the client as it is); a `ModelLoadError` stays one; anything else is a plain Error.
 */
export function deserializeError(data: SerializedError): Error {
  let error: Error;
  if (data.coded === true && typeof data.code === "string") error = new ProtocolError(data.code, data.message, data.details);
  else if (data.name === "ModelLoadError" && data.modelId !== undefined && data.file !== undefined) {
    error = new ModelLoadError(data.modelId, data.file, "");
    error.message = data.message;
  } else {
    error = new Error(data.message);
    error.name = data.name;
  }
  if (data.stack) error.stack = data.stack;
  return error;
}
