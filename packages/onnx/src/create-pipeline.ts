/**
 * `createOnnxPipeline`: checks the options, starts the engine thread, which loads every configured
 * model (failing at startup, naming the file, when one is broken), and returns the pipeline.
 */
import { startEngineThread } from "./engine-thread.js";
import { resolveOptions, type OnnxPipelineOptions } from "./options.js";
import { OnnxPipeline } from "./pipeline.js";

export async function createOnnxPipeline(options: OnnxPipelineOptions): Promise<OnnxPipeline> {
  const resolved = resolveOptions(options);
  try {
    const engine = await startEngineThread(resolved);
    return new OnnxPipeline(resolved, engine.models, engine);
  } catch (error) {
    resolved.logger.error({ err: error }, "model pipeline failed to start");
    throw error;
  }
}
