/**
 * Builds what a heartbeat_ack reports (report.ts): the node's status, its load and its models.
 * The (optional) pipeline is looked up lazily: it may be registered by a plugin listed later.
 *
 * The pipeline's figures and model list are read at most once per `pipelineReadIntervalMs`
 * (default 100 ms) and reused in between: a pipeline's stats() and listModels() return fresh
 * copies (through the metrics and request-log decorators), which was a tenth of a heartbeat's
 * server CPU at bench:dispatch's rate, for figures that a balancer polls every few seconds.
 * The node's own figures (connections, in_flight, draining) are read on every heartbeat.
 */
import type { Logger, ModelPipeline, NodeInfo, NodeStatus } from "@modelnode/core";
import type { ResolvedHeartbeatOptions } from "./options.js";
import type { HeartbeatLoad, HeartbeatReport } from "./report.js";
import { WorkerRegistry } from "./worker-registry.js";

export interface MonitorDeps {
  nodeInfo: () => NodeInfo;
  pipeline: () => ModelPipeline | undefined;
  logger: Logger;
}

/** What a heartbeat reads from the pipeline (zeros and no models without one). */
interface PipelineFigures {
  activeSessions: number;
  generationsInFlight: number;
  queued: number;
  /** Its stats() threw, or its queue is at degradedQueueLength or longer. */
  saturated: boolean;
  models: string[];
}

export class HeartbeatMonitor {
  readonly workers: WorkerRegistry;
  private figures: PipelineFigures | undefined;
  /** When `figures` were read (the caller's clock, ms). */
  private figuresReadAt = 0;

  constructor(
    private readonly options: ResolvedHeartbeatOptions,
    private readonly deps: MonitorDeps,
  ) {
    this.workers = new WorkerRegistry(options.maxTrackedWorkers);
  }

  /** `now`: the caller's clock reading (ms since the epoch), when it has one already. */
  report(now = Date.now()): HeartbeatReport {
    const node = this.deps.nodeInfo();
    // load() is the cheap accessor: full stats() would run every plugin's stats source.
    const nodeLoad = node.load();
    const pipeline = this.pipelineFigures(now);
    const load: HeartbeatLoad = {
      connections: nodeLoad.connections,
      in_flight: nodeLoad.inFlight,
      active_sessions: pipeline.activeSessions,
      generations_in_flight: pipeline.generationsInFlight,
      queued_generations: pipeline.queued,
    };
    return {
      node_id: node.nodeId,
      status: this.status(node.status(), pipeline.saturated, load),
      uptime_seconds: Math.floor((now - node.startedAt.getTime()) / 1000),
      load,
      models: pipeline.models,
    };
  }

  /**
   * draining (the node is closing) wins; then degraded when the node is in trouble: the pipeline
   * cannot report its figures, its queue is at degradedQueueLength or longer, or the custom check
   * says so. A short queue is normal under load and stays "healthy".
   */
  private status(base: NodeStatus, saturated: boolean, load: HeartbeatLoad): NodeStatus {
    if (base === "draining") return base;
    if (saturated || this.customDegraded(load)) return "degraded";
    return base;
  }

  private customDegraded(load: HeartbeatLoad): boolean {
    if (!this.options.degraded) return false;
    try {
      return this.options.degraded({ ...load }) === true;
    } catch (err) {
      this.deps.logger.warn({ err }, "heartbeat degraded() check threw; reporting degraded");
      return true;
    }
  }

  /** The figures read at most `pipelineReadIntervalMs` before `now`, or read again. */
  private pipelineFigures(now: number): PipelineFigures {
    const interval = this.options.pipelineReadIntervalMs;
    // `now < readAt`: the clock went back; read again rather than trust a reading from the future.
    if (this.figures === undefined || now - this.figuresReadAt >= interval || now < this.figuresReadAt) {
      this.figures = this.readPipeline();
      this.figuresReadAt = now;
    }
    return this.figures;
  }

  /** A pipeline that cannot report its stats is treated as saturated, so clients steer away. */
  private readPipeline(): PipelineFigures {
    const pipeline = this.deps.pipeline();
    const figures: PipelineFigures = { activeSessions: 0, generationsInFlight: 0, queued: 0, saturated: false, models: [] };
    if (!pipeline) return figures;
    try {
      const stats = pipeline.stats();
      figures.activeSessions = count(stats.activeSessions);
      figures.generationsInFlight = count(stats.generationsInFlight);
      figures.queued = count(stats.queuedGenerations);
      const limit = this.options.degradedQueueLength;
      figures.saturated = limit > 0 && figures.queued >= limit;
    } catch (err) {
      this.deps.logger.warn({ err }, "pipeline could not report its stats; reporting degraded");
      figures.saturated = true;
    }
    try {
      figures.models = pipeline.listModels().map((m) => m.id);
    } catch (err) {
      this.deps.logger.warn({ err }, "pipeline could not list its models");
    }
    return figures;
  }
}

/** A figure as the whole, non-negative count heartbeat_ack declares (0 for anything else). */
function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}
