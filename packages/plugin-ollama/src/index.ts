// @modelnode/plugin-ollama: Ollama's HTTP API on the node's port — GET /api/version, /api/tags,
// /api/ps, POST /api/show, /api/generate and /api/chat (NDJSON streams or whole), errors in
// Ollama's shape. See docs/plugin-ollama.md.
export { ollamaPlugin } from "./plugin.js";
export { ollamaDefaultsSchema, ollamaOptionsSchema, resolveOllamaOptions, type OllamaDefaults, type OllamaPluginOptions, type ResolvedOllamaOptions } from "./options.js";
export { LOAD_TIME_OPTIONS, optionsSchema, samplingOf, type OllamaOptions } from "./sampling.js";
export { chatRequestSchema, generateRequestSchema, showRequestSchema, MAX_MODEL_CHARS, type ChatBody, type ChatTurn, type GenerateBody } from "./schema.js";
export { toOllamaError, type OllamaErrorResponse } from "./errors.js";
export { findModel, type OllamaModel, type OllamaModelDetails, type OllamaRunningModel, type OllamaShowResponse } from "./models.js";
export type { OllamaFigures, OllamaLogprob } from "./generate.js";
