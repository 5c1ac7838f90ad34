/**
 * A plugin is a plain value (usually made by a factory taking its options): a name, what it
 * needs, the handlers it contributes, and an optional `register` that binds services in the
 * node's DI container and adds guards, stats or close hooks through the host. createNode checks
 * every plugin's needs before any plugin registers, and its services after all have.
 */
import type { DependencyContainer, InjectionToken } from "tsyringe";
import type { Logger } from "pino";
import type { HandlerContext, IncomingMessage, MessageHeader, Protocol } from "./context.js";
import type { HandlerEntry } from "./decorators.js";
import type { RouteDefinition } from "./http-route.js";

/**
 * Cross-cutting policy run before payload validation and the handler, for every message of
 * every type (like a NestJS guard or a fastify preHandler hook). Throw a ProtocolError to
 * refuse the message; return (or resolve) to let it through.
 */
export type Guard = (message: IncomingMessage, ctx: HandlerContext) => void | Promise<void>;

/** A request (a message given to a handler, or an HTTP route call) as it ended. */
export interface RequestEnd {
  protocol: "standard" | "legacy" | "http";
  /** The message_type, "legacy", or the HTTP route's name. */
  type: string;
  /** "ok", or the error code the client was sent. */
  outcome: string;
  /** From dispatch to the last reply (a stream's whole length). */
  durationMs: number;
}

/** Called synchronously as each request ends: keep it cheap (count, observe a histogram, log a line). */
export type RequestObserver = (event: RequestEnd) => void;

/** A request as its walk begins: admitted, before its body is read and the guards run. */
export interface RequestStart {
  protocol: Protocol;
  /** The message_type, "legacy", or the HTTP route's name. */
  type: string;
  /** Standard protocol only. */
  header?: MessageHeader;
  /** HTTP routes only: the request line and headers. */
  http?: IncomingMessage["http"];
  /** What the guards and the handler get. */
  context: HandlerContext;
}

/**
 * Runs around each admitted request's walk (body, guards, validation, handler, reply, and the
 * request's end observers): call `walk` exactly once, synchronously, and return what it returns.
 * For what needs the request's async context from its start to its end, e.g. tracing holding
 * its span in an AsyncLocalStorage (`storage.run(span, walk)`); observers run inside it.
 */
export type RequestScope = (start: RequestStart, walk: () => void | Promise<void>) => void | Promise<void>;

export interface PluginHost {
  readonly logger: Logger;
  /** Guards run in the order they were added (plugins register in the order given). */
  addGuard(guard: Guard): void;
  /** Runs when the node closes, after connections are closed, in reverse order of registration. */
  onClose(hook: () => void | Promise<void>): void;
  /** Adds `key` to getStats(), computed by `source` each time stats are read. */
  addStatsSource(key: string, source: () => unknown): void;
  /** Observes every request's end (metrics, request logs). Frames refused before a handler is chosen are not requests. */
  onRequestEnd(observer: RequestObserver): void;
  /**
   * Runs every admitted request inside `scope` (scopes nest in the order added). Costs nothing
   * per request while no plugin adds one.
   */
  scopeRequests(scope: RequestScope): void;
  /**
   * A condition /readyz waits for: `check` returns why the node cannot serve yet (e.g. "waiting
   * for a worker to announce a model"), or undefined when it can. /readyz answers 503
   * `{"status":"waiting","reason":…}` while any check gives a reason.
   */
  addReadinessCheck(check: () => string | undefined): void;
}

export interface Plugin {
  /** Unique within a node: two plugins with one name are refused. */
  name: string;
  /** The plugin's own version, shown in errors and the startup log. */
  version?: string;
  /**
   * The @modelnode/core versions this plugin works with, as a semver range (e.g. "^0.1.0").
   * A node whose core is outside it refuses to start.
   */
  core?: string;
  /** Other plugins (by name) that must be composed into the same node, in any order. */
  dependencies?: string[];
  /**
   * Services this plugin's handlers need that some other plugin provides (e.g. PIPELINE): checked
   * once every plugin has registered, before any handler is built.
   */
  requires?: InjectionToken<unknown>[];
  handlers?: HandlerEntry[];
  /** HTTP endpoints on the node's port (`defineRoute(...)`), served with the same policy as messages. */
  routes?: RouteDefinition<any, any>[];
  register?(container: DependencyContainer, host: PluginHost): void | Promise<void>;
}

/** Identity helper that gives a plugin literal its type. */
export function definePlugin<P extends Plugin>(plugin: P): P {
  return plugin;
}
