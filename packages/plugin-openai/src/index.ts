// @modelnode/plugin-openai: an OpenAI-compatible HTTP API on the node's port — GET /v1/models,
// POST /v1/completions, POST /v1/chat/completions and POST /v1/responses (whole or streamed as
// server-sent events),
// with errors in OpenAI's shape. See docs/plugin-openai.md.
export { openaiPlugin } from "./plugin.js";
export {
  OPENAI_DEFAULTS,
  OPENAI_LIMITS,
  OPENAI_MAX_CHOICES,
  openaiDefaultsSchema,
  openaiOptionsSchema,
  resolveOpenAIOptions,
  type OpenAIDefaults,
  type OpenAIPluginOptions,
  type ResolvedOpenAIOptions,
} from "./options.js";
export {
  chatRequestSchema,
  completionRequestSchema,
  MAX_CONTENT_PARTS,
  MAX_MODEL_CHARS,
  type ChatRequest,
  type ChatTurn,
  type CompletionRequest,
} from "./schema.js";
export { toOpenAIError, type OpenAIError, type OpenAIErrorResponse } from "./errors.js";
export type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatLogprobs,
  ChatTokenLogprob,
  CompletionLogprobs,
  ModelList,
  OpenAIFinishReason,
  OpenAIUsage,
  TextCompletion,
  TextCompletionChunk,
} from "./routes.js";
