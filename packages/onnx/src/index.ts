/**
 * @modelnode/onnx — the model pipeline on ONNX Runtime (CPU): Hugging Face ONNX model
 * directories in, core's `ModelPipeline` out, served by a continuously batching engine on a
 * thread of its own. See README.md and docs/engine.md.
 */
export { createOnnxPipeline } from "./create-pipeline.js";
export { OnnxPipeline } from "./pipeline.js";
export { DEFAULT_OPTIONS, parseModelArgument, type ModelEntry, type OnnxPipelineOptions } from "./options.js";
export { DTYPE_SUFFIXES, MODEL_DTYPES, type ModelDtype } from "./model-files.js";
export { floatToHalf, halfToFloat } from "./float16.js";
export { DEFAULT_TEMPERATURE } from "./request-settings.js";
export { FALLBACK_CHAT_TEMPLATE, MAX_ROLE_CHARS } from "./chat-template.js";
export { ModelLoadError } from "./model-files.js";
export { sessionOptionsFor } from "./loaded-model.js";
export type { PipelineLogger } from "./logger.js";
