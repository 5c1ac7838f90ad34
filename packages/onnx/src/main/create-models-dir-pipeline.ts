/**
 * `createModelsDirPipeline`: the ONNX pipeline over a models directory (docs/models.md, "A models
 * directory"): the options' `models` (if any) load at start and stay; every model folder under
 * `modelsDir` loads on its first request with the same options, and unloads after its keep-alive
 * or to make room (see model-lifecycle.ts).
 */
import { existsSync, statSync } from "node:fs";
import { freemem, totalmem } from "node:os";
import type { ModelPipeline } from "@modelnode/core/pipeline";
import { silentLogger } from "../shared/logger.js";
import { createOnnxPipeline } from "./create-pipeline.js";
import type { ModelFetcher } from "./model-fetcher.js";
import type { LifecycleLimits } from "./model-lifecycle.js";
import { ModelsDirPipeline } from "./models-dir-pipeline.js";
import type { OnnxPipelineOptions } from "./options.js";

export interface ModelsDirOptions extends Partial<LifecycleLimits> {
  /** The folder whose model folders (`name/` or `org/name/`, Hugging Face ONNX layout) are served on demand (each folder's graph chosen as for a model without a dtype). */
  modelsDir: string;
  /**
   * Brings a model the directory lacks into it on its first request (the example node's
   * `--pull-on-demand` pulls from the Hugging Face Hub). Absent: an unknown id is MODEL_NOT_FOUND.
   * A request waits for the fetch up to `loadTimeoutMs`, then for the load.
   */
  fetchModel?: ModelFetcher;
}

/** Ollama's defaults where it has one (5 minutes, 3 models); the memory budget: half of this machine's memory. */
export const LIFECYCLE_DEFAULTS = {
  keepAliveMs: 5 * 60_000,
  maxLoadedModels: 3,
  memoryBudgetBytes: Math.floor(totalmem() / 2),
  loadTimeoutMs: 120_000,
} as const satisfies LifecycleLimits;

export async function createModelsDirPipeline(options: OnnxPipelineOptions & ModelsDirOptions): Promise<ModelsDirPipeline> {
  const { modelsDir, keepAliveMs, maxLoadedModels, memoryBudgetBytes, loadTimeoutMs, fetchModel, ...onnx } = options;
  if (typeof modelsDir !== "string" || !existsSync(modelsDir) || !statSync(modelsDir).isDirectory()) {
    throw new TypeError(`createModelsDirPipeline: \`modelsDir\` must be a directory (got ${String(modelsDir)})`);
  }
  if (fetchModel !== undefined && (typeof fetchModel.accepts !== "function" || typeof fetchModel.fetch !== "function")) {
    throw new TypeError("createModelsDirPipeline: `fetchModel` must be { accepts(id), fetch(id, signal) }");
  }
  const limits = resolveLimits({ keepAliveMs, maxLoadedModels, memoryBudgetBytes, loadTimeoutMs });
  const logger = onnx.logger ?? silentLogger;
  const pinned: ModelPipeline | undefined = Object.keys(onnx.models ?? {}).length > 0 ? await createOnnxPipeline(onnx) : undefined;
  const pipeline = new ModelsDirPipeline(
    modelsDir,
    pinned,
    limits,
    (model) => createOnnxPipeline({ ...onnx, models: { [model.id]: model.dtype ? { dir: model.dir, dtype: model.dtype } : model.dir } }),
    logger,
    fetchModel,
  );
  logger.info({ modelsDir, models: pipeline.listModels().filter((m) => m.state !== "loaded").map((m) => m.id), ...limits, fetchesMissing: fetchModel !== undefined, freeBytes: freemem() }, "models directory: serving on demand");
  return pipeline;
}

function resolveLimits(given: Partial<LifecycleLimits>): LifecycleLimits {
  const limits = { ...LIFECYCLE_DEFAULTS, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) } as LifecycleLimits;
  if (!Number.isInteger(limits.keepAliveMs)) throw new TypeError("createModelsDirPipeline: `keepAliveMs` must be an integer (ms; negative = never unload)");
  for (const key of ["maxLoadedModels", "memoryBudgetBytes", "loadTimeoutMs"] as const) {
    if (!Number.isInteger(limits[key]) || limits[key] < 1) throw new TypeError(`createModelsDirPipeline: \`${key}\` must be a positive integer (got ${limits[key]})`);
  }
  return limits;
}
