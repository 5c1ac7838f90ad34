/**
 * createNode(): composition at startup. Builds a child DI container, registers core services,
 * lets each plugin register in order, builds the handler registry, and returns a ModelNode.
 */
import { container as rootContainer, type DependencyContainer } from "tsyringe";
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { WebSocketServer, type WebSocket } from "ws";
import { CORE_VERSION } from "./core-identity.js";
import type { HandlerEntry } from "./decorators.js";
import { createLogger, withRedaction } from "./logger.js";
import { resolveOptions, type NodeOptions, type ResolvedNodeOptions } from "./options.js";
import { checkPlugins, checkServices } from "./plugin-checks.js";
import type { Guard, PluginHost, RequestObserver, RequestScope } from "./plugin.js";
import { HttpDoor } from "./http-door.js";
import type { ResolvedRoute, RouteDefinition } from "./http-route.js";
import { HandlerRegistry } from "./registry.js";
import { operatorRoute, resolveRoutes } from "./routes.js";
import { asyncApiDocument } from "./asyncapi.js";
import { LOGGER, NODE_INFO, NODE_OPTIONS, type NodeInfo, type NodeStatus } from "./services.js";
import { StatsCollector, type NodeStats } from "./stats.js";
import { bind, createNodeServer, WsTransport } from "./transport.js";
import { RequestLifecycle } from "./lifecycle.js";
import { WsDoor } from "./ws-door.js";

export type StatsSource = () => unknown;

/** What plugins see of the node; exists before handlers are constructed, so they may inject it. */
class NodeInfoService implements NodeInfo {
  readonly startedAt = new Date();
  draining = false;
  fullStats: () => NodeStats = () => this.collector.snapshot();

  constructor(
    readonly nodeId: string,
    private readonly collector: StatsCollector,
  ) {}

  status(): NodeStatus {
    return this.draining ? "draining" : "healthy";
  }

  load(): { connections: number; inFlight: number } {
    return { connections: this.collector.activeConnections, inFlight: this.collector.inFlight };
  }

  getStats(): NodeStats {
    return this.fullStats();
  }
}

/** What createNode composed, handed to the node in one piece. */
export interface NodeParts {
  info: NodeInfoService;
  container: DependencyContainer;
  options: ResolvedNodeOptions;
  logger: Logger;
  registry: HandlerRegistry;
  collector: StatsCollector;
  statsSources: Map<string, StatsSource>;
  closeHooks: (() => void | Promise<void>)[];
  guards: readonly Guard[];
  observers: readonly RequestObserver[];
  scopes: readonly RequestScope[];
  routes: readonly ResolvedRoute[];
  readinessChecks: readonly (() => string | undefined)[];
}

export class ModelNode implements NodeInfo {
  readonly container: DependencyContainer;
  readonly options: ResolvedNodeOptions;
  readonly logger: Logger;
  readonly registry: HandlerRegistry;
  private readonly info: NodeInfoService;
  private readonly collector: StatsCollector;
  private readonly statsSources: Map<string, StatsSource>;
  private readonly closeHooks: (() => void | Promise<void>)[];
  private readonly transport: WsTransport;
  private readonly readinessChecks: readonly (() => string | undefined)[];
  private closing: Promise<void> | undefined;

  constructor(parts: NodeParts) {
    ({ container: this.container, options: this.options, logger: this.logger, registry: this.registry } = parts);
    ({ info: this.info, collector: this.collector, statsSources: this.statsSources, closeHooks: this.closeHooks } = parts);
    this.readinessChecks = parts.readinessChecks;
    const { options, logger, collector } = parts;
    // One lifecycle for every request, whichever door it comes in by.
    const lifecycle = new RequestLifecycle(parts.guards, parts.observers, parts.scopes, collector, options.limits, logger);
    const messages = new WsDoor(parts.registry, lifecycle, collector, options.limits);
    const http = new HttpDoor([...this.operatorRoutes(), ...parts.routes], lifecycle, collector, options, logger);
    this.transport = new WsTransport(options, logger, collector, lifecycle, messages, http);
    this.info.fullStats = () => this.getStats();
  }

  /** /health (kept for the field's monitors), /livez, /readyz and /stats: unguarded, not counted as requests. */
  private operatorRoutes(): ResolvedRoute[] {
    const draining = () => this.info.draining;
    return [
      operatorRoute("/health", () => ({ status: draining() ? 503 : 200, json: { status: this.info.status() } })),
      operatorRoute("/livez", () => ({ status: 200, json: { status: "alive" } })),
      operatorRoute("/readyz", () => this.readiness()),
      operatorRoute("/stats", () => ({ status: 200, json: this.getStats() })),
      // The message types this node serves, as an AsyncAPI 3.0 document built from their schemas.
      operatorRoute("/asyncapi.json", (req) => ({
        status: 200,
        json: asyncApiDocument(this.registry, { protocol: this.options.tls ? "wss" : "ws", host: headerValue(req.headers.host) }),
      })),
    ];
  }

  /** Draining, or a plugin's readiness check giving a reason (the first), or ready. */
  private readiness(): { status: number; json: unknown } {
    if (this.info.draining) return { status: 503, json: { status: "draining" } };
    for (const check of this.readinessChecks) {
      let reason: string | undefined;
      try {
        reason = check();
      } catch (error) {
        reason = `a readiness check failed: ${(error as Error).message}`;
      }
      if (reason !== undefined) return { status: 503, json: { status: "waiting", reason } };
    }
    return { status: 200, json: { status: "ready" } };
  }

  get nodeId(): string {
    return this.info.nodeId;
  }

  get startedAt(): Date {
    return this.info.startedAt;
  }

  status(): NodeStatus {
    return this.info.status();
  }

  load(): { connections: number; inFlight: number } {
    return this.info.load();
  }

  /** Starts the HTTP + WebSocket server. Resolves with the bound address (port 0 → a free one). */
  listen(port = this.options.port, host = this.options.host): Promise<{ port: number; host: string }> {
    return this.transport.listen(port, host);
  }

  /** Serves on a server that is already bound (startNode binds the port before composing). */
  serveOn(server: HttpServer): void {
    this.transport.serveOn(server);
  }

  /** Serves this node's protocol on someone else's server (the guide's option 1 on an existing server). */
  attach(target: WebSocketServer | HttpServer): void {
    this.transport.attach(target);
  }

  /**
   * Gradual adoption (the guide's option 2): process one raw message from an existing ws
   * connection. Resolves true when the node answered it; false when it is not standard
   * protocol and no legacy handler is registered, so the caller's old logic should run.
   */
  processMessage(ws: WebSocket, message: unknown, isBinary = typeof message !== "string"): Promise<boolean> {
    return this.transport.processMessage(ws, message, isBinary);
  }

  /** The guide's get_stats() names, plus per-type, per-error-code and plugin figures. */
  getStats(): NodeStats & Record<string, unknown> {
    const stats = this.collector.snapshot() as NodeStats & Record<string, unknown>;
    for (const [key, source] of this.statsSources) stats[key] = source();
    return stats;
  }

  /** The bound port once listening. */
  get port(): number | undefined {
    return this.transport.port;
  }

  /**
   * Graceful: stop accepting, let in-flight requests finish up to `timeoutMs`, then cancel the
   * rest (their handlers send a cancelled reply), close every socket with 1001, run close hooks.
   */
  close(timeoutMs = this.options.shutdownTimeoutMs): Promise<void> {
    this.info.draining = true;
    this.closing ??= (async () => {
      this.logger.info({ inFlight: this.collector.inFlight }, "node draining");
      await this.transport.shutdown(timeoutMs);
      for (const hook of [...this.closeHooks].reverse()) {
        try {
          await hook();
        } catch (err) {
          this.logger.error({ err }, "close hook failed");
        }
      }
      this.logger.info("node closed");
    })();
    return this.closing;
  }
}

/**
 * Composes a node: checks the options and every plugin's needs (names, core range, plugin
 * dependencies) before any plugin registers, lets each register in order, checks the services
 * they declared, then builds the handlers. Any mistake throws before anything listens.
 */
export async function createNode(options: NodeOptions = {}): Promise<ModelNode> {
  const resolved = resolveOptions(options);
  const plugins = options.plugins ?? [];
  checkPlugins(plugins);
  const logger = options.logger ? withRedaction(options.logger) : createLogger(options.logLevel);
  const container = rootContainer.createChildContainer();
  const guards: Guard[] = [];
  const observers: RequestObserver[] = [];
  const scopes: RequestScope[] = [];
  const closeHooks: (() => void | Promise<void>)[] = [];
  const statsSources = new Map<string, StatsSource>();
  const readinessChecks: (() => string | undefined)[] = [];
  const handlers: { plugin: string; entry: HandlerEntry }[] = [];
  const routes: { plugin: string; route: RouteDefinition }[] = [];
  const collector = new StatsCollector();

  container.register(NODE_OPTIONS, { useValue: resolved });
  container.register(LOGGER, { useValue: logger });
  const info = new NodeInfoService(resolved.nodeId, collector);
  container.register(NODE_INFO, { useValue: info });

  try {
    for (const plugin of plugins) {
      const host: PluginHost = {
        logger: logger.child({ plugin: plugin.name }),
        addGuard: (guard) => guards.push(guard),
        onClose: (hook) => closeHooks.push(hook),
        addStatsSource: (key, source) => statsSources.set(key, source),
        onRequestEnd: (observer) => observers.push(observer),
        scopeRequests: (scope) => scopes.push(scope),
        addReadinessCheck: (check) => readinessChecks.push(check),
      };
      await plugin.register?.(container, host);
      for (const entry of plugin.handlers ?? []) handlers.push({ plugin: plugin.name, entry });
      for (const route of plugin.routes ?? []) routes.push({ plugin: plugin.name, route });
    }
    checkServices(plugins, container);
    const registry = HandlerRegistry.build(handlers, container);
    const node = new ModelNode({
      info, container, options: resolved, logger, registry, collector, statsSources, closeHooks, guards, observers, scopes, routes: resolveRoutes(routes, container),
      readinessChecks,
    });
    logger.debug(
      { core: CORE_VERSION, types: registry.types(), legacy: Boolean(registry.legacy), plugins: plugins.map((p) => p.name) },
      "node composed",
    );
    return node;
  } catch (error) {
    // Plugins that registered may hold resources (a loaded model): release them before failing.
    for (const hook of [...closeHooks].reverse()) {
      try {
        await hook();
      } catch (err) {
        logger.error({ err }, "close hook failed while abandoning a failed composition");
      }
    }
    throw error;
  }
}

/**
 * Binds the port first, then composes the node and serves on it: a port in use fails in
 * milliseconds instead of after the models have loaded, and while they load the port answers
 * `/livez` 200, `/readyz` 503 `{"status":"starting"}`, and refuses WebSocket upgrades with 503.
 */
export async function startNode(
  options: NodeOptions = {},
  /** Called once the port is bound, before composition starts (e.g. to say "loading models"). */
  onListening?: (address: { port: number; host: string }) => void,
): Promise<{ node: ModelNode; port: number; host: string }> {
  const resolved = resolveOptions(options);
  const starting = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    const alive = path === "/livez";
    res.writeHead(alive ? 200 : 503, { "content-type": "application/json", "retry-after": "1" });
    res.end(JSON.stringify({ status: alive ? "alive" : "starting" }));
  };
  const server = createNodeServer(resolved, starting);
  server.on("upgrade", (_req, socket) => socket.end("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"));
  const bound = await bind(server, resolved.port, resolved.host);
  onListening?.(bound);
  let node: ModelNode;
  try {
    node = await createNode(options);
  } catch (error) {
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw error;
  }
  node.serveOn(server);
  return { node, ...bound };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
