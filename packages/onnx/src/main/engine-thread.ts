/**
 * Starting the engine thread: a `worker_threads` Worker running engine/worker.ts with the resolved
 * options, resolved once it has loaded every model (or rejected with the error it reported, e.g.
 * a `ModelLoadError` naming the file at fault).
 */
import { Worker } from "node:worker_threads";
import type { ModelInfo } from "@modelnode/core/pipeline";
import type { EngineOptions, FromEngine } from "../messages/engine-protocol.js";
import { deserializeError } from "../messages/errors.js";
import { createRunFlags } from "../messages/run-flags.js";
import type { SamplingDefaults } from "../messages/sampling.js";
import type { ResolvedOptions } from "./options.js";

export interface EngineThread {
  worker: Worker;
  /** Shared with the engine thread: see messages/run-flags.ts. */
  runFlags: Int32Array;
  models: ModelInfo[];
  /** Per model id: generation_config.json's sampling values (see engine/loaded-model.ts). */
  samplingDefaults?: Record<string, SamplingDefaults>;
  /** Starts another engine with the same options (after this one died). */
  restart(): Promise<EngineThread>;
}

export function startEngineThread(options: ResolvedOptions): Promise<EngineThread> {
  const { logger, ...rest } = options;
  const runFlags = createRunFlags();
  const worker = new Worker(new URL("../engine/worker.js", import.meta.url), {
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

