/**
 * The two ways to declare a handler, sharing one registry:
 *
 * - `@MessageHandler(type, { schema })` on a class: only records metadata and makes the class
 *   injectable (constructor parameters come from the node's DI container);
 * - `defineHandler({ type, schema, inject, handle })`: a plain value, for handlers that are a
 *   function of their dependencies.
 *
 * In both, `handle`'s message type follows from the schema and the compiler checks it; with
 * `replySchema` / `replies` declared, so is what it returns (reply-declarations.ts). A schema
 * may be a function of the node's services (`(resolve) => schemaFor(resolve(MY_OPTIONS))`), so
 * that limits can come from a plugin's options without defining a class inside a factory.
 * Checks happen in the registry at startup, so that a mistake fails startup with a message
 * naming the plugin and the handler rather than failing at import time.
 */
import { injectable, type InjectionToken } from "tsyringe";
import type { z, ZodType } from "zod";
import type { HandlerContext } from "./context.js";
import { CORE_COPY_ID } from "./core-identity.js";
import type { HandlerResult } from "./reply.js";
import type { DeclaredResult, ReplySchemas } from "./reply-declarations.js";

/**
 * The key of the legacy-format handler: legacy messages have no message_type, so their handler
 * has its own slot (a standard message whose message_type is "legacy" is just an unknown type).
 */
export const LEGACY_FORMAT: unique symbol = Symbol.for("modelnode.legacy-format") as never;
export type HandlerKey = string | typeof LEGACY_FORMAT;

/** Gets a service from the node's DI container (what a schema function receives). */
export type Resolve = <T>(token: InjectionToken<T>) => T;

/** A zod schema, or a function building one from the node's services (e.g. the plugin's options). */
export type SchemaSource<S extends ZodType = ZodType> = S | ((resolve: Resolve) => S);

export interface MessageHandlerOptions<S extends ZodType = ZodType, R extends ZodType | undefined = ZodType | undefined, X extends ReplySchemas | undefined = ReplySchemas | undefined> {
  /** zod schema for the payload (the message without its header; for legacy, the whole message). */
  schema: SchemaSource<S>;
  /** message_type of replies that are plain objects. Default: `${type}_response`. */
  replyType?: string;
  /**
   * zod schema of the plain replies' payload (without the header; for legacy, the whole reply).
   * Describes the reply in the AsyncAPI document and is what @modelnode/testing's replyChecker
   * holds sent frames to; `handle`'s return type is checked against its `z.input`.
   */
  replySchema?: R;
  /**
   * The other reply types it sends with `reply(type, payload)` (e.g. streamed chunks), each with
   * the zod schema of its payload. Errors are core's and need no declaration.
   */
  replies?: X;
  /**
   * A control message (e.g. a cancel): it is answered even when its connection has
   * maxInFlightPerConnection requests in flight, since it exists to end one of them. It should
   * be cheap and quick. Default false.
   */
  control?: boolean;
}

export interface HandlerMetadata extends MessageHandlerOptions {
  type: HandlerKey;
  /** Which copy of @modelnode/core recorded it (two copies in one process cannot share handlers). */
  core: string;
}

/** What a handler class must have for schema S: the message is what S outputs; its replies are what R and X accept. */
export interface HandlerFor<S extends ZodType, R extends ZodType | undefined = undefined, X extends ReplySchemas | undefined = undefined> {
  handle: (message: z.output<S>, ctx: HandlerContext) => DeclaredResult<R, X>;
}

export interface MessageHandlerInstance<M = any> {
  handle(message: M, ctx: HandlerContext): HandlerResult;
}

export type MessageHandlerClass = abstract new (...args: any[]) => MessageHandlerInstance;

const HANDLER_METADATA = Symbol.for("modelnode.handler");

export function MessageHandler<S extends ZodType, R extends ZodType | undefined = undefined, X extends ReplySchemas | undefined = undefined>(
  type: HandlerKey,
  options: MessageHandlerOptions<S, R, X>,
) {
  return <T extends abstract new (...args: any[]) => HandlerFor<S, R, X>>(target: T): void => {
    const meta: HandlerMetadata = {
      type,
      schema: options.schema,
      replyType: options.replyType,
      replySchema: options.replySchema,
      replies: options.replies,
      control: options.control,
      core: CORE_COPY_ID,
    };
    Reflect.defineMetadata(HANDLER_METADATA, meta, target);
    injectable()(target as unknown as new (...args: any[]) => unknown);
  };
}

export function getHandlerMetadata(target: Function): HandlerMetadata | undefined {
  return Reflect.getMetadata(HANDLER_METADATA, target) as HandlerMetadata | undefined;
}

const DEFINITION = Symbol.for("modelnode.handler-definition");

/** Tokens to resolve, by the name the handler receives them under. */
export type InjectMap<D> = { [K in keyof D]: InjectionToken<D[K]> };

export interface HandlerDefinition<
  S extends ZodType = ZodType,
  D = any,
  R extends ZodType | undefined = ZodType | undefined,
  X extends ReplySchemas | undefined = ReplySchemas | undefined,
> extends MessageHandlerOptions<S, R, X> {
  /** The id of the copy of core that made it (see core-identity.ts). */
  readonly [DEFINITION]: string;
  type: HandlerKey;
  /** Shown in startup errors. Default: the type. */
  name?: string;
  inject?: InjectMap<D>;
  handle(message: z.output<S>, ctx: HandlerContext, deps: D): DeclaredResult<R, X>;
}

export interface HandlerSpec<S extends ZodType, D, R extends ZodType | undefined = undefined, X extends ReplySchemas | undefined = undefined>
  extends MessageHandlerOptions<S, R, X> {
  type: HandlerKey;
  name?: string;
  /** Services from the node's container, resolved once when the node is composed. */
  inject?: InjectMap<D>;
  handle(message: z.output<S>, ctx: HandlerContext, deps: D): DeclaredResult<R, X>;
}

/** A handler as a plain value: `handle(message, ctx, deps)` with `deps` resolved from `inject`. */
export function defineHandler<
  S extends ZodType,
  D extends Record<string, unknown> = Record<string, never>,
  R extends ZodType | undefined = undefined,
  X extends ReplySchemas | undefined = undefined,
>(spec: HandlerSpec<S, D, R, X>): HandlerDefinition<S, D, R, X> {
  return { ...spec, [DEFINITION]: CORE_COPY_ID };
}

export function isHandlerDefinition(value: unknown): value is HandlerDefinition {
  return typeof value === "object" && value !== null && typeof (value as { [DEFINITION]?: unknown })[DEFINITION] === "string";
}

/** The copy of core that made a definition. */
export function definitionCore(value: HandlerDefinition): string {
  return value[DEFINITION];
}

/** What a plugin lists in `handlers`. */
export type HandlerEntry = MessageHandlerClass | HandlerDefinition<any, any, any, any>;

/** The label of a handler key in messages and stats ("legacy" for the legacy slot). */
export function keyLabel(key: HandlerKey): string {
  return key === LEGACY_FORMAT ? "legacy" : key;
}
