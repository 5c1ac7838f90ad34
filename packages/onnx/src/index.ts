/**
 * @modelnode/onnx — the model pipeline on ONNX Runtime (CPU): Hugging Face ONNX model
 * directories in, core's `ModelPipeline` out, served by a continuously batching engine on a
 * thread of its own. See README.md and docs/engine.md.
 *
 * The folders say which thread code runs on: main/ (the caller's thread; this file is loaded
 * there too), engine/ and tokenizer/ (their worker threads), messages/ (what the threads
 * exchange) and shared/ (pure code any thread uses). Each has a README.md; the layout test
 * (test/layout.test.ts) holds the import rules.
 */
export { createOnnxPipeline } from "./main/create-pipeline.js";
export { OnnxPipeline } from "./main/pipeline.js";
export { createModelsDirPipeline, LIFECYCLE_DEFAULTS, type ModelsDirOptions } from "./main/create-models-dir-pipeline.js";
export { ModelsDirPipeline } from "./main/models-dir-pipeline.js";
export type { ModelFetcher } from "./main/model-fetcher.js";
export { ModelLifecycle, type LifecycleLimits } from "./main/model-lifecycle.js";
export { DEFAULT_OPTIONS, parseModelArgument, type ModelEntry, type OnnxPipelineOptions } from "./main/options.js";
export { DTYPE_SUFFIXES, MODEL_DTYPES, type ModelDtype } from "./shared/model-files.js";
export { floatToHalf, halfToFloat } from "./shared/float16.js";
export { DEFAULT_TEMPERATURE } from "./main/request-settings.js";
export { FALLBACK_CHAT_TEMPLATE, MAX_ROLE_CHARS } from "./shared/chat-template.js";
export { ModelLoadError } from "./shared/model-files.js";
export { sessionOptionsFor } from "./shared/session-options.js";
export type { PipelineLogger } from "./shared/logger.js";
