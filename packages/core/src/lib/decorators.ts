/**
 * `@MessageHandler(type, { schema })` only records metadata and makes the class injectable;
 * the registry (registry.ts) reads it at startup. Checks happen there, so that a mistake
 * fails startup with a message naming the classes rather than failing at import time.
 */
import { injectable } from "tsyringe";
import type { ZodType } from "zod";
import type { HandlerContext } from "./context.js";
import type { HandlerResult } from "./reply.js";

/** The registry key under which the legacy-format handler is registered. */
export const LEGACY_MESSAGE_TYPE = "legacy";

export interface MessageHandlerOptions {
  /** zod schema for the payload (the message without its header; for legacy, the whole message). */
  schema: ZodType;
  /** message_type of replies that are plain objects. Default: `${type}_response`. */
  replyType?: string;
}

export interface HandlerMetadata extends MessageHandlerOptions {
  type: string;
}

export interface MessageHandlerInstance<M = any> {
  handle(message: M, ctx: HandlerContext): HandlerResult;
}

export type MessageHandlerClass = abstract new (...args: any[]) => MessageHandlerInstance;

const HANDLER_METADATA = Symbol.for("modelnode.handler");

export function MessageHandler(type: string, options: MessageHandlerOptions) {
  return <T extends new (...args: any[]) => MessageHandlerInstance>(target: T): T => {
    Reflect.defineMetadata(HANDLER_METADATA, { type, ...options }, target);
    injectable()(target);
    return target;
  };
}

export function getHandlerMetadata(target: Function): HandlerMetadata | undefined {
  return Reflect.getMetadata(HANDLER_METADATA, target) as HandlerMetadata | undefined;
}
