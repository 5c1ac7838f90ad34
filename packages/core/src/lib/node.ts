/**
 * createNode(): composition at startup. Builds a child DI container, registers core services,
 * lets each plugin register in order, builds the handler registry, and returns a ModelNode.
 */
import { container as rootContainer, type DependencyContainer } from "tsyringe";
import type { Server as HttpServer } from "node:http";
import type { Logger } from "pino";
import { WebSocketServer, type WebSocket } from "ws";
import { CORE_VERSION } from "./core-identity.js";
import type { HandlerEntry } from "./decorators.js";
import { Dispatcher } from "./dispatcher.js";
import { createLogger, withRedaction } from "./logger.js";
import { resolveOptions, type NodeOptions, type ResolvedNodeOptions } from "./options.js";
import { checkPlugins, checkServices } from "./plugin-checks.js";
import type { Guard, PluginHost } from "./plugin.js";
import { HandlerRegistry } from "./registry.js";
import { LOGGER, NODE_INFO, NODE_OPTIONS, type NodeInfo, type NodeStatus } from "./services.js";
import { StatsCollector, type NodeStats } from "./stats.js";
import { WsTransport } from "./transport.js";

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

  stats(): NodeStats {
    return this.fullStats();
  }
}

export class ModelNode implements NodeInfo {
  private readonly transport: WsTransport;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly info: NodeInfoService,
    readonly container: DependencyContainer,
    readonly options: ResolvedNodeOptions,
    readonly logger: Logger,
    readonly registry: HandlerRegistry,
    private readonly collector: StatsCollector,
    dispatcher: Dispatcher,
    private readonly statsSources: Map<string, StatsSource>,
    private readonly closeHooks: (() => void | Promise<void>)[],
  ) {
    this.transport = new WsTransport(options, logger, collector, dispatcher);
    info.fullStats = () => this.getStats();
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
    return this.transport.listen(port, host, () => this.getStats());
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

  stats(): NodeStats {
    return this.getStats();
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
  const closeHooks: (() => void | Promise<void>)[] = [];
  const statsSources = new Map<string, StatsSource>();
  const handlers: { plugin: string; entry: HandlerEntry }[] = [];
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
      };
      await plugin.register?.(container, host);
      for (const entry of plugin.handlers ?? []) handlers.push({ plugin: plugin.name, entry });
    }
    checkServices(plugins, container);
    const registry = HandlerRegistry.build(handlers, container);
    const dispatcher = new Dispatcher(registry, guards, collector, resolved.limits, logger);
    const node = new ModelNode(info, container, resolved, logger, registry, collector, dispatcher, statsSources, closeHooks);
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
