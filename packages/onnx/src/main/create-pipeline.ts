/**
 * `createOnnxPipeline`: checks the options, starts the engine thread, which loads every configured
 * model (failing at startup, naming the file, when one is broken), then the tokenizer thread with
 * every model's tokenizer, and returns the pipeline.
 */
import { startEngineThread } from "./engine-thread.js";
import { resolveOptions, type OnnxPipelineOptions } from "./options.js";
import { OnnxPipeline } from "./pipeline.js";

export async function createOnnxPipeline(options: OnnxPipelineOptions): Promise<OnnxPipeline> {
  const resolved = resolveOptions(options);
  try {
    const engine = await startEngineThread(resolved);
    const pipeline = new OnnxPipeline(resolved, engine.models, engine);
    await pipeline.warm().catch(async (error) => {
      await pipeline.close();
      throw error;
    });
    return pipeline;
  } catch (error) {
    resolved.logger.error({ err: error }, "model pipeline failed to start");
    throw error;
  }
}
