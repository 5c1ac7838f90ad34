// The public face of @modelnode/core. Plugins and applications import only from here.
import "reflect-metadata";

export { z } from "zod";
export type { ZodType } from "zod";
export { inject, injectable, singleton, type DependencyContainer, type InjectionToken } from "tsyringe";
export type { Logger } from "pino";

export { createNode, ModelNode } from "./lib/node.js";
export {
  DEFAULT_LIMITS,
  DEFAULT_PORT,
  type NodeLimits,
  type NodeOptions,
  type ResolvedNodeOptions,
  type TlsOptions,
} from "./lib/options.js";
export { definePlugin, type Guard, type Plugin, type PluginHost } from "./lib/plugin.js";
export {
  MessageHandler,
  LEGACY_MESSAGE_TYPE,
  getHandlerMetadata,
  type HandlerMetadata,
  type MessageHandlerClass,
  type MessageHandlerInstance,
  type MessageHandlerOptions,
} from "./lib/decorators.js";
export type { HandlerContext, IncomingMessage, MessageHeader, Protocol } from "./lib/context.js";
export { Reply, reply, type HandlerResult } from "./lib/reply.js";
export { HandlerRegistry, RegistryError, type RegisteredHandler } from "./lib/registry.js";
export { ErrorCode, ProtocolError, toErrorBody, type ErrorBody, type KnownErrorCode } from "./lib/errors.js";
export { detect, frameToText, type Detection } from "./lib/detect.js";
export { PROTOCOL_VERSION, headerSchema, isSupportedVersion, isWellFormedHeader } from "./lib/header.js";
export { replyHeader, standardReply, standardError, legacyError, type ReplyHeader } from "./lib/envelope.js";
export { validationError, type FieldIssue } from "./lib/validation.js";
export { protocolPercentage, type NodeStats } from "./lib/stats.js";
export { LOGGER, NODE_INFO, NODE_OPTIONS, type NodeInfo, type NodeStatus } from "./lib/services.js";
export * from "./lib/pipeline.js";
export { pipelinePlugin, type PipelineSource } from "./lib/pipeline-plugin.js";
