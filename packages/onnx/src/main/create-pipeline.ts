/**
 * `createOnnxPipeline`: checks the options, starts the engine thread, which loads every configured
 * model (failing at startup, naming the file, when one is broken), then the tokenizer thread with
 * every model's tokenizer, and returns the pipeline.
 */
import { ModelLoadError } from "../shared/model-files.js";
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
    // A model that cannot load (a missing file, a wrong dtype) is the operator's to fix, and the
    // rejection says all of it in one line: the caller prints it, so no stack trace here first.
    // Anything else is a bug, logged in full.
    if (error instanceof ModelLoadError) resolved.logger.debug({ err: error }, "model pipeline failed to start");
    else resolved.logger.error({ err: error }, "model pipeline failed to start");
    throw error;
  }
}
