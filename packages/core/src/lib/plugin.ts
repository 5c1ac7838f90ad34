/**
 * A plugin is a plain object (usually made by a factory taking its options): a name, the
 * handler classes it contributes, and an optional `register` that binds services in the
 * node's DI container and adds guards or close hooks through the host.
 */
import type { DependencyContainer } from "tsyringe";
import type { Logger } from "pino";
import type { HandlerContext, IncomingMessage } from "./context.js";
import type { MessageHandlerClass } from "./decorators.js";

/**
 * Cross-cutting policy run before payload validation and the handler, for every message of
 * every type (like a NestJS guard or a fastify preHandler hook). Throw a ProtocolError to
 * refuse the message; return (or resolve) to let it through.
 */
export type Guard = (message: IncomingMessage, ctx: HandlerContext) => void | Promise<void>;

export interface PluginHost {
  readonly logger: Logger;
  /** Guards run in the order they were added (plugins register in the order given). */
  addGuard(guard: Guard): void;
  /** Runs when the node closes, after connections are closed, in reverse order of registration. */
  onClose(hook: () => void | Promise<void>): void;
  /** Adds `key` to getStats(), computed by `source` each time stats are read. */
  addStatsSource(key: string, source: () => unknown): void;
}

export interface Plugin {
  name: string;
  handlers?: MessageHandlerClass[];
  register?(container: DependencyContainer, host: PluginHost): void | Promise<void>;
}

/** Identity helper that gives a plugin literal its type. */
export function definePlugin<P extends Plugin>(plugin: P): P {
  return plugin;
}
