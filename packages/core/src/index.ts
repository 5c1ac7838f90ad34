/**
 * @modelnode/core — the authoring API: what a plugin package imports to declare message
 * handlers, guards and services, throw coded errors and call the model pipeline.
 *
 * Other entry points: `@modelnode/core/server` (compose and run a node), `@modelnode/core/pipeline`
 * (the contract a pipeline implements), `@modelnode/core/protocol` (wire-format building blocks).
 */
import "reflect-metadata";

export { z } from "zod";
export type { ZodType } from "zod";
// tsyringe's `singleton` is deliberately not offered: a @singleton() handler would be shared by
// every node in the process (one node's services answering another's clients).
export { inject, injectable, type DependencyContainer, type InjectionToken } from "tsyringe";
export type { Logger } from "pino";

export { CORE_VERSION } from "./lib/core-identity.js";
export { describeOptionIssue, parsePluginOptions } from "./lib/plugin-options.js";
export { pluginManifest, type PluginManifest } from "./lib/plugin-manifest.js";
export {
  checkDefaultMaxTokens,
  DEFAULT_MAX_TOKENS,
  GENERATION_LIMITS,
  generationOptionsShape,
  samplingDefaultsSchema,
} from "./lib/generation-options.js";
export { GenerationCounters } from "./lib/generation-counters.js";
export { buildGenerateRequest, type RequestedGeneration, type SamplingDefaults } from "./lib/generate-request.js";
export { newToolCallId, parseToolCalls, ToolCallParser, type ToolCallEvent, type ToolCallParserOptions } from "./lib/tool-calls.js";
export { choiceRequests, generateChoices, streamChoices, type ChoiceEvent } from "./lib/choices.js";
export {
  grammarOfResponseFormat,
  renameGrammarField,
  responseFormatSchema,
  type RequestedGrammar,
  type ResponseFormat,
} from "./lib/response-format.js";
export { definePlugin, type Guard, type Plugin, type PluginHost, type RequestEnd, type RequestObserver, type RequestScope, type RequestStart } from "./lib/plugin.js";
export {
  MessageHandler,
  defineHandler,
  LEGACY_FORMAT,
  type HandlerDefinition,
  type HandlerEntry,
  type HandlerFor,
  type HandlerKey,
  type HandlerSpec,
  type InjectMap,
  type MessageHandlerClass,
  type MessageHandlerInstance,
  type MessageHandlerOptions,
  type Resolve,
  type SchemaSource,
} from "./lib/decorators.js";
export type { HandlerContext, IncomingMessage, MessageHeader, Protocol } from "./lib/context.js";
export {
  defineRoute,
  type HttpMethod,
  type HttpRequest,
  type HttpResponse,
  type RouteDefinition,
  type RouteOptions,
  type RouteSpec,
} from "./lib/http-route.js";
export { isReply, Reply, reply, type HandlerResult } from "./lib/reply.js";
export {
  ErrorCode,
  errors,
  httpStatusOf,
  isCodedError,
  ProtocolError,
  type ErrorBody,
  type KnownErrorCode,
} from "./lib/errors.js";
export { LOGGER, NODE_INFO, NODE_OPTIONS, type NodeInfo, type NodeStatus } from "./lib/services.js";
export type { NodeStats } from "./lib/stats.js";
export type { ResolvedNodeOptions, NodeLimits } from "./lib/options.js";
export * from "./lib/pipeline.js";
export { TOOL_NAME_PATTERN } from "./lib/tool-name.js";
