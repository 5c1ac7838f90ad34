/**
 * A model worker: runs a ModelPipeline behind NATS, with no socket of its own. It serves each of
 * the pipeline's models on its own subjects (gateways pick the least loaded worker from the
 * heartbeats) and on queue-group subjects (their fallback), answers `busy`
 * when its own in-flight cap is reached (the gateway then tries another), streams pieces on the
 * gateway's per-request inbox in order, numbered, within a credit window, and drains on request.
 *
 * The parts: Announcer (heartbeats, every 100 ms by default, and a goodbye on close), RequestServer (the subjects it answers), ServedStream (one
 * per generation served) and ServedStreams (admission and the drain's steps).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { ModelPipeline } from "@modelnode/core/pipeline";
import { DEFAULT_PREFIX, subjects, type Heartbeat } from "./protocol.js";
import { connectNats, type NatsConnectOptions } from "./connect-options.js";
import { Announcer } from "./announcer.js";
import { checkWorkerLimits } from "./limits.js";
import { silentLogger, type MinimalLogger } from "./logger.js";
import { RequestServer } from "./request-server.js";
import { ServedStreams } from "./served-streams.js";

export type { MinimalLogger } from "./logger.js";

/** `servers`: NATS server URL(s), e.g. "nats://127.0.0.1:4222"; `auth`, `tls`: see connect-options.ts. */
export interface WorkerOptions extends NatsConnectOptions {
  pipeline: ModelPipeline;
  /** The worker's id on the subjects (letters, digits, - and _). Default: random. */
  name?: string;
  prefix?: string;
  /** Generations run at once; one more is answered `busy`. Default 4. */
  maxInFlight?: number;
  /**
   * Heartbeat period. Gateways take a worker silent for a few periods (their `missedHeartbeats`)
   * for suspect and ping it: the shorter, the sooner a killed worker's generations resume
   * elsewhere. Default 100 ms (a heartbeat is one small message; a gateway reads it in microseconds).
   */
  heartbeatMs?: number;
  /**
   * With the credit window full, how long to wait for an acknowledgement before giving up on the
   * gateway (it died, or its client stopped reading) and cancelling the generation. Default 30 s.
   */
  ackTimeoutMs?: number;
  /** Pause between reconnect tries to the same NATS server (the client's reconnectTimeWait). Default 250 ms. */
  reconnectWaitMs?: number;
  /** Close the pipeline when the worker closes. Default true. */
  closePipeline?: boolean;
  logger?: MinimalLogger;
}

export const DEFAULT_HEARTBEAT_MS = 100;

export interface ModelWorker {
  readonly id: string;
  readonly connection: NatsConnection;
  inFlight(): number;
  /**
   * Stops taking work (leaves the queue groups), lets running generations finish for up to
   * `timeoutMs`, hands the rest back to their gateways (which continue them on another worker),
   * then closes. Default 10 s.
   */
  drain(timeoutMs?: number): Promise<void>;
  /** Closes at once: running generations are cancelled. */
  close(): Promise<void>;
}

export function startWorker(options: WorkerOptions): Promise<ModelWorker> {
  return NatsModelWorker.start(options);
}

class NatsModelWorker implements ModelWorker {
  private readonly streams: ServedStreams;
  private readonly announcer: Announcer;
  private readonly server: RequestServer;
  private closed?: Promise<void>;

  private constructor(
    readonly id: string,
    readonly connection: NatsConnection,
    private readonly options: WorkerOptions,
  ) {
    const s = subjects(options.prefix ?? DEFAULT_PREFIX);
    const { pipeline } = options;
    this.streams = new ServedStreams(options.maxInFlight ?? 4, options.ackTimeoutMs ?? 30_000);
    this.announcer = new Announcer(connection, s, () => this.heartbeat(), options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    this.server = new RequestServer(id, s, this.streams, {
      connection, pipeline, ackTimeoutMs: options.ackTimeoutMs ?? 30_000, log: options.logger ?? silentLogger,
    });
  }

  static async start(options: WorkerOptions): Promise<NatsModelWorker> {
    checkWorkerLimits(options);
    const id = options.name ?? `w${Math.random().toString(36).slice(2, 10)}`;
    if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new Error(`worker name "${id}": use letters, digits, - and _`);
    const nc = await connectNats({ ...options, name: `modelnode-worker-${id}` });
    const worker = new NatsModelWorker(id, nc, options);
    worker.server.listen();
    worker.announcer.listen();
    worker.watchStatus();
    await nc.flush();
    worker.announcer.start();
    (options.logger ?? silentLogger).info({ worker: id, models: options.pipeline.listModels().map((m) => m.id) }, "worker ready");
    return worker;
  }

  /**
   * After a reconnect (the NATS server died or restarted, or the network dropped), what was in
   * flight may be gone: announce at once, and publish again every stream's unacknowledged messages.
   */
  private watchStatus(): void {
    void (async () => {
      for await (const status of this.connection.status()) {
        if (status.type !== "reconnect") continue;
        this.announcer.announce();
        this.streams.resendAll();
      }
    })().catch(() => {});
  }

  private heartbeat(): Heartbeat {
    const { streams } = this;
    const { pipeline, heartbeatMs } = this.options;
    return {
      worker: this.id, models: pipeline.listModels(), inFlight: streams.size, maxInFlight: streams.maxInFlight, draining: streams.draining,
      periodMs: heartbeatMs ?? DEFAULT_HEARTBEAT_MS, queued: queuedIn(pipeline), gateways: streams.byGateway(),
    };
  }

  inFlight(): number {
    return this.streams.size;
  }

  drain(timeoutMs = 10_000): Promise<void> {
    this.closed ??= this.shutdown(timeoutMs);
    return this.closed;
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown(undefined);
    return this.closed;
  }

  /** Draining (`drainMs` given): stop taking work, let what runs finish for a while, hand the rest back. Closing: cancel it. */
  private async shutdown(drainMs: number | undefined): Promise<void> {
    const { streams, connection: nc } = this;
    streams.draining = true;
    this.announcer.announce();
    this.server.leaveQueueGroups();
    await nc.flush().catch(() => {});
    if (drainMs !== undefined) await streams.settle(drainMs);
    // What is still running goes back to its gateway, which continues it on another worker.
    streams.endAll(drainMs !== undefined);
    await streams.allDone();
    this.announcer.stop();
    this.announcer.goodbye(); // gateways drop this worker now, not after its missed heartbeats
    this.server.stop();
    await nc.drain().catch(() => nc.close());
    if (this.options.closePipeline ?? true) await this.options.pipeline.close();
  }
}

/** The pipeline's waiting generations (0 when its stats() fails: a heartbeat must go out). */
function queuedIn(pipeline: ModelPipeline): number {
  try {
    return pipeline.stats().queuedGenerations ?? 0;
  } catch {
    return 0;
  }
}
