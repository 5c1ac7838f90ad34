// @modelnode/plugin-inference: inference_request → inference_response (optionally streamed as
// inference_chunk frames; a prompt or a chat's messages), inference_cancel →
// inference_cancel_response, and list_models → list_models_response. See docs/plugin-inference.md.
export { inferencePlugin } from "./plugin.js";
export {
  INFERENCE_DEFAULTS,
  INFERENCE_LIMITS,
  inferenceDefaultsSchema,
  inferenceOptionsSchema,
  resolveInferenceOptions,
  type InferenceDefaults,
  type InferencePluginOptions,
  type ResolvedInferenceOptions,
} from "./options.js";
export {
  inferenceCancelResponseSchema,
  inferenceCancelSchema,
  inferenceChunkSchema,
  inferenceRequestSchema,
  inferenceResponseSchema,
  listModelsResponseSchema,
  listModelsSchema,
  MAX_ROLE_CHARS,
  tokenAlternativeSchema,
  tokenLogprobSchema,
  toolCallSchema,
  toolChoiceSchema,
  toolSchema,
  type InferenceCancel,
  type InferenceCancelResponse,
  type InferenceChunk,
  type InferenceRequest,
  type InferenceResponse,
  type ListModelsResponse,
  type TokenAlternativeLogprob,
  type TokenLogprobEntry,
  type Tool,
  type ToolCallEntry,
  type ToolChoiceOption,
} from "./schema.js";
export { ListModelsHandler } from "./list-models-handler.js";
export { InferenceRequestHandler } from "./inference-handler.js";
export { InferenceCancelHandler } from "./cancel-handler.js";
