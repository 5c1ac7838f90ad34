// @modelnode/client: talk to a modelnode node from a browser or from Node. This entry is
// browser-safe: it imports nothing but its own relative modules (the plugins' request and reply
// types are type-only imports, gone from the JavaScript). In Node, @modelnode/client/node adds
// `ws` as the default WebSocket. See docs/client.md.
export { ModelNodeClient, CLIENT_DEFAULTS, PROTOCOL_VERSION } from "./client.js";
export { Generation } from "./generation.js";
export { LegacySession, type StepOptions } from "./session.js";
export { backoffDelay, type BackoffPolicy } from "./backoff.js";
export { randomId } from "./ids.js";
export { StateEvent, ClientErrorEvent, type ClientEventMap, type StateEventInit } from "./events.js";
export {
  AuthenticationError,
  ConnectionLostError,
  ModelNodeError,
  TimeoutError,
  type ClientErrorCode,
  type ConnectionLostDetails,
  type ErrorCode,
  type ErrorDetailsByCode,
  type ErrorSource,
} from "./errors.js";
export type {
  AuthenticationResponse,
  CallOptions,
  ChatMessage,
  ClientOptions,
  ConnectionState,
  FinishReason,
  FrameHeader,
  GenerateOptions,
  GenerationResult,
  HeartbeatAck,
  HeartbeatRequest,
  InferenceCancelResponse,
  InferenceChunk,
  InferenceRequest,
  InferenceResponse,
  LegacyInput,
  LegacyMessage,
  LegacyOutput,
  LegacyStepReply,
  ListModelsResponse,
  ModelInfo,
  ReconnectOptions,
  Reply,
  ResponseFormat,
  SamplingOptions,
  TokenLogprobEntry,
  Tool,
  ToolCall,
  ToolChoiceOption,
  Usage,
  WebSocketConstructor,
  WebSocketLike,
} from "./types.js";
