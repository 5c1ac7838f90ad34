/**
 * @modelnode/onnx — the model pipeline on ONNX Runtime (CPU): Hugging Face ONNX model
 * directories in, core's `ModelPipeline` out. See README.md.
 */
export { createOnnxPipeline } from "./create-pipeline.js";
export { OnnxPipeline } from "./pipeline.js";
export { DEFAULT_OPTIONS, type OnnxPipelineOptions } from "./options.js";
export { DEFAULT_TEMPERATURE } from "./request-settings.js";
export { ModelLoadError } from "./model-files.js";
export type { PipelineLogger } from "./logger.js";
export { buildTinyModel, isTinyModelCurrent, TINY_MODEL_BUILDER_VERSION, type BuildTinyModelOptions } from "./tiny-model/build.js";
