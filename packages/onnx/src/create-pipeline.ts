/**
 * `createOnnxPipeline`: loads every configured model (failing at startup, naming the file, when
 * one is broken) and returns the pipeline.
 */
import { resolve } from "node:path";
import { loadModel, type LoadedModel } from "./loaded-model.js";
import { resolveOptions, type OnnxPipelineOptions } from "./options.js";
import { OnnxPipeline } from "./pipeline.js";

export async function createOnnxPipeline(options: OnnxPipelineOptions): Promise<OnnxPipeline> {
  const resolved = resolveOptions(options);
  const models = new Map<string, LoadedModel>();
  try {
    for (const [id, dir] of Object.entries(resolved.models)) {
      models.set(id, await loadModel(id, resolve(dir), resolved));
    }
  } catch (error) {
    for (const model of models.values()) await model.session.release();
    resolved.logger.error({ err: error }, "model pipeline failed to start");
    throw error;
  }
  return new OnnxPipeline(resolved, models);
}
