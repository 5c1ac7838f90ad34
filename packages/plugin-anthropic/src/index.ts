// @modelnode/plugin-anthropic: Anthropic's Messages API on the node's port — POST /v1/messages
// (whole or streamed as Anthropic's server-sent events) and POST /v1/messages/count_tokens, with
// errors in Anthropic's shape. See docs/plugin-anthropic.md.
export { anthropicPlugin } from "./plugin.js";
export {
  anthropicDefaultsSchema,
  anthropicOptionsSchema,
  resolveAnthropicOptions,
  type AnthropicDefaults,
  type AnthropicPluginOptions,
  type ResolvedAnthropicOptions,
} from "./options.js";
export { chatOf, countTokensRequestSchema, messagesRequestSchema, MAX_MODEL_CHARS, type ChatTurn, type CountTokensRequest, type MessagesRequest } from "./schema.js";
export { errorTypeOf, toAnthropicError, type AnthropicErrorResponse } from "./errors.js";
export { toGenerateRequest } from "./routes.js";
export type { AnthropicMessage, AnthropicStopReason, AnthropicStreamEvent, AnthropicUsage } from "./shapes.js";
