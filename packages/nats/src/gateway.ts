/**
 * The gateway side: a ModelPipeline whose work runs on NATS workers. Bind it to PIPELINE on an
 * ordinary node (`pipelinePlugin(natsPipeline({ servers }))`) and the legacy, inference and
 * OpenAI plugins work unchanged.
 *
 * Routing: each generation goes to the worker with the most free capacity (heartbeats plus this
 * gateway's own count); the queue group only while no worker with room is known.
 *
 * Failures: a worker that says goodbye, or whose missed heartbeats end in a ping with no
 * responders, is dropped at once and its generations checked; a generation whose worker goes
 * quiet for idleMs is checked with a ping too. A worker that does not answer is taken for dead,
 * avoided for a while, and the generation continues on another worker from what was delivered. Legacy sessions are pinned to the worker
 * holding their cache; when it dies, their history is replayed on another one. A NATS server's
 * death or restart loses what was in flight: after a reconnect (or on a gap in a stream's
 * sequence numbers) each generation asks its worker to resend what it lacks (StreamAttempt.sync).
 *
 * The parts: GatewayLink (the connection), Membership (heartbeats, load), Liveness (goodbyes,
 * silent workers), WorkerPicker (chooser.ts: the least loaded worker) and RetryPolicy
 * (routing.ts), RemoteStream and StreamAttempt (generations), StepSessions (legacy steps).
 */
import {
  errors,
  type ChatMessage,
  type GenerateRequest, type GenerationEvent, type GenerationResult, type ModelInfo, type ModelPipeline,
  type PipelineStats, type StepRequest, type StepResult, type Tokenization, type ToolSpec, type WorkerLoad,
} from "@modelnode/core/pipeline";
import { chatCall, fromWire, type Heartbeat, type TokCall, type WireError } from "./protocol.js";
import { GatewayLink, unreachable } from "./gateway-link.js";
import { sleep, withDefaults, type GatewayCounters, type GatewayOptions, type NatsPipelineOptions } from "./gateway-options.js";
import { silentLogger, type MinimalLogger } from "./logger.js";
import { Liveness } from "./liveness.js";
import { Membership } from "./membership.js";
import { RemoteStream, type StreamContext } from "./remote-stream.js";
import { RetryPolicy, WorkerPicker } from "./routing.js";
import { StepSessions } from "./step-sessions.js";
import { MemorySessionStore, type SessionStore } from "./session-store.js";
import { JetStreamSessionStore } from "./jetstream-session-store.js";

export type { NatsPipelineOptions, SessionStoreOptions } from "./gateway-options.js";

/** For pipelinePlugin: `pipelinePlugin(natsPipeline({ servers }))`. */
export function natsPipeline(options: NatsPipelineOptions): (logger?: MinimalLogger & { child?(b: object): MinimalLogger }) => Promise<NatsPipeline> {
  return (logger) => NatsPipeline.connect({ logger: logger?.child?.({ component: "nats" }) ?? logger, ...options });
}

export class NatsPipeline implements ModelPipeline {
  readonly id: string;
  /** Workers announce the models: none at start is fine, and they come and go. */
  readonly dynamicModels = true;
  private readonly membership: Membership;
  private readonly picker: WorkerPicker;
  private readonly liveness: Liveness;
  private readonly sessions: StepSessions;
  private readonly streamContext: StreamContext;
  /** Generations running now (cancelled on close). */
  private readonly active = new Set<RemoteStream>();
  private readonly counters: GatewayCounters = { resubmits: 0, workerFailures: 0, replays: 0, gaps: 0 };
  private closing?: Promise<void>;

  private constructor(
    private readonly link: GatewayLink,
    private readonly options: GatewayOptions,
    private readonly store: SessionStore,
  ) {
    this.id = options.name;
    const log = options.logger ?? silentLogger;
    this.membership = new Membership(options.memberTtlMs, options.missedHeartbeats, this.id);
    const picker = (this.picker = new WorkerPicker(this.membership, options.avoidMs));
    this.liveness = new Liveness(link, this.membership, picker, log, (worker) => {
      for (const remote of this.active) remote.workerSuspected(worker);
      this.sessions.workerSuspected(worker);
    });
    const retry = new RetryPolicy(options.maxAttempts);
    const shared = { gatewayId: this.id, link, picker, retry, counters: this.counters, log };
    this.streamContext = {
      ...shared, window: options.window, idleMs: options.idleMs, recoveryMs: options.recoveryMs,
      countTokens: (modelId, text) => this.countTokens(modelId, text),
    };
    this.sessions = new StepSessions({ ...shared, stepIdleMs: options.stepIdleMs, recoveryMs: options.recoveryMs, store });
  }

  static async connect(options: NatsPipelineOptions): Promise<NatsPipeline> {
    const resolved = withDefaults(options);
    const link = await GatewayLink.open(resolved);
    let store: SessionStore;
    try {
      store = resolved.sessionStore.kind === "jetstream" ? await JetStreamSessionStore.open(link.connection, resolved.sessionStore) : new MemorySessionStore();
    } catch (error) {
      await link.close();
      throw error;
    }
    const pipeline = new NatsPipeline(link, resolved, store);
    await pipeline.start();
    return pipeline;
  }

  /**
   * Listens to heartbeats and goodbyes, asks every worker for a heartbeat, and waits a while for
   * the first (none is no error: notReady() says what the gateway waits for until one comes).
   */
  private async start(): Promise<void> {
    const { link } = this;
    link.subscribe(link.subjects.heartbeat, (msg) => this.membership.onHeartbeat(msg.data));
    this.liveness.start(this.options.livenessCheckMs);
    // After a reconnect, what was in flight may be lost: ask every worker for a heartbeat, and
    // every running generation for what it lacks (its worker publishes it again).
    link.watchStatus(() => {
      link.publish(link.subjects.discover);
      for (const remote of this.active) remote.resync();
    });
    await link.flush();
    link.publish(link.subjects.discover);
    await Promise.race([this.membership.firstHeartbeat, sleep(this.options.discoverMs)]);
  }

  /** The NATS server this gateway is connected to now ("host:port"), e.g. to tell which one it depends on. */
  natsServer(): string {
    return this.link.connection.getServer();
  }

  /** Live workers (heartbeat within memberTtlMs). */
  workers(): Heartbeat[] {
    return this.membership.live();
  }

  /** What /readyz waits for: NATS, then a live worker that serves a model. */
  notReady(): string | undefined {
    if (this.closing) return "closing";
    if (!this.link.reachable) return "waiting for the NATS server to come back";
    if (!this.membership.serving()) return "waiting for a worker to announce a model";
    return undefined;
  }

  /** Each live worker's load as this gateway estimates it, and what it has given each. */
  workerLoads(): WorkerLoad[] {
    return this.membership.live().map((w) => ({
      worker: w.worker, inFlight: this.membership.load(w.worker), capacity: w.maxInFlight, queued: w.queued ?? 0, assigned: this.picker.assignedSoFar(w.worker),
    }));
  }

  listModels(): ModelInfo[] {
    return this.membership.models();
  }
  hasModel(modelId: string): boolean {
    return this.membership.hasModel(modelId);
  }

  private checkOpen(modelId?: string): void {
    if (this.closing) throw errors.shuttingDown();
    if (!this.link.reachable) throw unreachable();
    if (modelId !== undefined && !this.membership.hasModel(modelId)) throw errors.modelNotFound(modelId, this.membership.modelIds());
  }

  // ---- tokens ----
  private async tok<T>(call: TokCall): Promise<T> {
    this.checkOpen(call.modelId);
    const reply = await this.link.request<{ ok: true; value: T } | { error: WireError }>(this.link.subjects.tok(call.modelId), call, call.modelId);
    if ("error" in reply) throw fromWire(reply.error);
    return reply.value;
  }
  tokenize(modelId: string, text: string): Promise<Tokenization> {
    return this.tok({ op: "tokenize", modelId, text });
  }
  countTokens(modelId: string, text: string): Promise<number> {
    return this.tok({ op: "countTokens", modelId, text });
  }
  detokenize(modelId: string, ids: number[]): Promise<string> {
    return this.tok({ op: "detokenize", modelId, ids });
  }
  /** Counted by a worker (its pipeline renders the chat, and the tools, with the model's template). */
  async countChatTokens(modelId: string, messages: readonly ChatMessage[], tools?: readonly ToolSpec[]): Promise<number> {
    const value = await this.tok<unknown>(chatCall("countChatTokens", modelId, messages, tools));
    // A worker of an earlier version knows no such call (it would answer a detokenize's text).
    if (typeof value !== "number") throw errors.invalidRequest("The model workers cannot count a chat's tokens (an earlier version).", "messages");
    return value;
  }
  /** Tokenized by a worker, as countChatTokens counts. */
  async tokenizeChat(modelId: string, messages: readonly ChatMessage[], tools?: readonly ToolSpec[]): Promise<number[]> {
    const value = await this.tok<unknown>(chatCall("tokenizeChat", modelId, messages, tools));
    if (!Array.isArray(value)) throw errors.invalidRequest("The model workers cannot tokenize a chat (an earlier version).", "messages");
    return value as number[];
  }

  // ---- generation ----
  async generate(request: GenerateRequest): Promise<GenerationResult> {
    let last: GenerationResult | undefined;
    for await (const event of this.stream(request)) if (event.kind === "done") last = event.result;
    return last!;
  }

  async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    this.checkOpen(request.modelId);
    const remote = new RemoteStream(this.streamContext, request);
    this.active.add(remote);
    try {
      yield* remote.run();
    } finally {
      this.active.delete(remote);
    }
  }

  // ---- legacy step sessions ----
  async step(request: StepRequest): Promise<StepResult> {
    this.checkOpen(request.modelId);
    return this.sessions.step(request);
  }

  /** The worker holding a session's cache now (undefined: none yet, or it was lost). */
  pinnedWorker(sessionId: string): string | undefined {
    return this.sessions.pinnedWorker(sessionId);
  }

  closeSession(sessionId: string): boolean {
    return this.sessions.closeSession(sessionId);
  }

  stats(): PipelineStats {
    const workers = this.workers();
    return {
      activeSessions: this.sessions.size,
      generationsInFlight: this.active.size,
      cacheBytes: 0,
      // The cluster's queue: what the workers' engines hold waiting (their heartbeats), plus
      // this gateway's generations still being offered (every worker busy, or a resume).
      queuedGenerations: workers.reduce((n, w) => n + (w.queued ?? 0), 0) + [...this.active].filter((r) => r.status !== "streaming" && r.status !== "done").length,
      workers: workers.length,
      ...this.counters,
    } as PipelineStats;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.liveness.stop();
      for (const remote of this.active) remote.cancel();
      this.sessions.close();
      await this.store.close();
      await this.link.close();
    })();
    return this.closing;
  }
}
