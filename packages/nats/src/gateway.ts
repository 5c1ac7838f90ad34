/**
 * The gateway side: a ModelPipeline whose work runs on NATS workers. Bind it to PIPELINE on an
 * ordinary node (`pipelinePlugin(natsPipeline({ servers }))`) and the legacy, inference and
 * OpenAI plugins work unchanged.
 *
 * Failures: a generation whose worker goes quiet is checked with a ping; a worker that does not
 * answer is taken for dead, avoided for a while, and the generation continues on another worker
 * from the prompt plus the text already delivered. Legacy sessions are pinned to the worker
 * holding their cache; when it dies, their history is replayed on another one.
 */
import { connect, createInbox, type Msg, type NatsConnection } from "@nats-io/transport-node";
import {
  errors, isCodedError,
  type GenerateRequest, type GenerationEvent, type GenerationResult, type ModelInfo, type ModelPipeline,
  type PipelineStats, type StepRequest, type StepResult, type Tokenization,
} from "@modelnode/core/pipeline";
import {
  DEFAULT_PREFIX, decode, encode, fromWire, subjects,
  type CallReply, type ControlMessage, type GenerateCall, type Heartbeat, type StepCall, type StreamMessage, type TokCall, type WireError,
} from "./protocol.js";
import type { MinimalLogger } from "./worker.js";

export interface NatsPipelineOptions {
  servers: string | string[];
  prefix?: string;
  /** This gateway's id (scopes its sessions on the workers). Default: random. */
  name?: string;
  /** How long to wait at start for a first worker's heartbeat. Default 2000 ms. */
  discoverMs?: number;
  /** Tries per generation or step (busy workers, dead workers). Default 5. */
  maxAttempts?: number;
  /** A request/reply to a worker (submit, ping, tokenize) times out after this. Default 2000 ms. */
  requestTimeoutMs?: number;
  /** A generation with no message for this long gets its worker pinged. Default 1500 ms. */
  idleMs?: number;
  /** A step gets its worker pinged every this often while it waits. Default 1500 ms. */
  stepIdleMs?: number;
  /** A worker taken for dead is not picked directly for this long. Default 30 s. */
  avoidMs?: number;
  /** Credit window: pieces a worker may send beyond the last acknowledged. Default 16. */
  window?: number;
  /** A worker missing heartbeats for this long leaves the membership. Default 5000 ms. */
  memberTtlMs?: number;
  logger?: MinimalLogger;
}

interface Member extends Heartbeat {
  seen: number;
}

interface GatewaySession {
  modelId: string;
  worker?: string;
  history: StepCall[];
  running?: number;
}

const noop: MinimalLogger = { info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The worker stopped answering (or NATS is unreachable): the caller may go on elsewhere. */
class WorkerLost extends Error {}

/** For pipelinePlugin: `pipelinePlugin(natsPipeline({ servers }))`. */
export function natsPipeline(options: NatsPipelineOptions): (logger?: MinimalLogger & { child?(b: object): MinimalLogger }) => Promise<NatsPipeline> {
  return (logger) => NatsPipeline.connect({ logger: logger?.child?.({ component: "nats" }) ?? logger, ...options });
}

export class NatsPipeline implements ModelPipeline {
  readonly id: string;
  private readonly s: ReturnType<typeof subjects>;
  private readonly members = new Map<string, Member>();
  /** Every model a worker has served since this gateway started (hasModel/listModels). */
  private readonly catalog = new Map<string, ModelInfo>();
  private readonly avoid = new Map<string, number>();
  private readonly sessions = new Map<string, GatewaySession>();
  private readonly active = new Set<() => void>();
  private inFlight = 0;
  private counters = { resubmits: 0, workerFailures: 0, replays: 0 };
  private closing?: Promise<void>;
  private connected = true;
  private readonly log: MinimalLogger;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly o: Required<Omit<NatsPipelineOptions, "logger" | "name">> & { name: string },
    logger: MinimalLogger,
  ) {
    this.id = o.name;
    this.s = subjects(o.prefix);
    this.log = logger;
  }

  static async connect(options: NatsPipelineOptions): Promise<NatsPipeline> {
    const o = {
      prefix: DEFAULT_PREFIX, name: `g${Math.random().toString(36).slice(2, 10)}`, discoverMs: 2000, maxAttempts: 5,
      requestTimeoutMs: 2000, idleMs: 1500, stepIdleMs: 1500, avoidMs: 30_000, window: 16, memberTtlMs: 5000,
      ...options,
    };
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: o.servers, name: `modelnode-gateway-${o.name}`, maxReconnectAttempts: -1, timeout: o.requestTimeoutMs });
    } catch (error) {
      throw new Error(`cannot reach NATS at ${String(o.servers)}: ${(error as Error).message}`);
    }
    const p = new NatsPipeline(nc, o, o.logger ?? noop);
    await p.start();
    return p;
  }

  private async start(): Promise<void> {
    let first: () => void = () => {};
    const seen = new Promise<void>((r) => (first = r));
    this.nc.subscribe(this.s.heartbeat, {
      callback: (_e, msg) => {
        try {
          const hb = decode<Heartbeat>(msg.data);
          this.members.set(hb.worker, { ...hb, seen: Date.now() });
          for (const m of hb.models) this.catalog.set(m.id, m);
          first();
        } catch {}
      },
    });
    void (async () => {
      for await (const status of this.nc.status()) {
        if (status.type === "disconnect") this.connected = false;
        if (status.type === "reconnect") {
          this.connected = true;
          this.nc.publish(this.s.discover);
        }
      }
    })().catch(() => {});
    await this.nc.flush();
    this.nc.publish(this.s.discover);
    await Promise.race([seen, sleep(this.o.discoverMs)]);
  }

  /** Live workers (heartbeat within memberTtlMs). */
  workers(): Heartbeat[] {
    const now = Date.now();
    for (const [id, m] of this.members) if (now - m.seen > this.o.memberTtlMs) this.members.delete(id);
    return [...this.members.values()];
  }

  listModels(): ModelInfo[] {
    return [...this.catalog.values()].map((m) => ({ ...m }));
  }
  hasModel(modelId: string): boolean {
    return this.catalog.has(modelId);
  }

  private checkOpen(modelId?: string): void {
    if (this.closing) throw errors.shuttingDown();
    if (this.nc.isClosed() || !this.connected) throw unreachable();
    if (modelId !== undefined && !this.catalog.has(modelId)) throw errors.modelNotFound(modelId, [...this.catalog.keys()]);
  }

  // ---- tokens ----
  private async tok<T>(call: TokCall): Promise<T> {
    this.checkOpen(call.modelId);
    const reply = await this.request<{ ok: true; value: T } | { error: WireError }>(this.s.tok(call.modelId), call, call.modelId);
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

  /** A request/reply with coded errors: no responders → BUSY (no worker serves it now), time-out or no NATS → BUSY. */
  private async request<T>(subject: string, body: unknown, modelId?: string, timeout = this.o.requestTimeoutMs): Promise<T> {
    let msg: Msg;
    try {
      msg = await this.nc.request(subject, encode(body), { timeout });
    } catch (error) {
      throw natsError(error, modelId);
    }
    return decode<T>(msg.data);
  }

  // ---- generation ----
  async generate(request: GenerateRequest): Promise<GenerationResult> {
    let last: GenerationResult | undefined;
    for await (const event of this.stream(request)) if (event.kind === "done") last = event.result;
    return last!;
  }

  async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    this.checkOpen(request.modelId);
    const id = `${this.id}-${Math.random().toString(36).slice(2)}`;
    const inbox = createInbox();
    const box = new Mailbox<StreamMessage>();
    const sub = this.nc.subscribe(inbox, { callback: (_e, msg) => box.push(safeDecode(msg)) });
    let delivered = "";
    let pieces = 0;
    /** The token ids of the delivered pieces, while every piece has said them (else undefined). */
    let generatedIds: number[] | undefined = [];
    let attempt = 0;
    let worker: string | undefined;
    let finished = false;
    const cancel = () => {
      if (worker && !finished && !this.nc.isClosed()) this.nc.publish(this.s.worker(worker, "ctl"), encode({ id, attempt, cancel: true } satisfies ControlMessage));
    };
    const onAbort = () => cancel();
    request.signal?.addEventListener("abort", onAbort, { once: true });
    this.active.add(onAbort);
    this.inFlight++;
    try {
      for (;;) {
        attempt++;
        if (attempt > this.o.maxAttempts) throw errors.busy("No model worker could finish this request; try again later.", { reason: "attempts_exhausted" });
        if (request.signal?.aborted) {
          const promptTokens = request.prompt !== undefined ? await this.countTokens(request.modelId, request.prompt).catch(() => 0) : 0;
          finished = true;
          yield { kind: "done", result: { text: delivered, finishReason: "cancelled", usage: { promptTokens, completionTokens: pieces } } };
          return;
        }
        if (pieces > 0 && request.prompt === undefined && !generatedIds) {
          throw errors.busy("The model worker serving this chat stopped, and its pipeline does not report token ids, so the chat cannot be continued on another one.", { reason: "worker_lost" });
        }
        const call: GenerateCall = {
          id, attempt, inbox, gateway: this.id, modelId: request.modelId, prompt: request.prompt,
          messages: request.messages as GenerateCall["messages"], maxTokens: request.maxTokens, temperature: request.temperature,
          topK: request.topK, topP: request.topP, seed: request.seed, stop: request.stop, window: this.o.window,
          ...(pieces > 0 || attempt > 1
            ? { resume: { text: delivered, pieces, ...(generatedIds ? { generatedIds, deliveredChars: delivered.length } : {}) } }
            : {}),
        };
        const accepted = await this.submit(call, attempt);
        if (!accepted) continue; // busy: try again
        worker = accepted;
        let expected = 1;
        const early = new Map<number, StreamMessage>();
        let lost = false;
        for (;;) {
          const next = early.get(expected) ?? (await box.next(this.o.idleMs, (m) => m !== undefined && m.attempt === attempt));
          if (next === "timeout") {
            if (await this.alive(worker)) continue;
            lost = true;
            break;
          }
          if (!next || next.attempt !== attempt) continue;
          if (next.seq !== expected) {
            early.set(next.seq, next);
            continue;
          }
          early.delete(expected);
          expected++;
          if (next.t === "text") {
            delivered += next.text;
            pieces = next.n;
            if (generatedIds && Array.isArray(next.ids)) generatedIds.push(...next.ids);
            else generatedIds = undefined;
            yield next.ids ? { kind: "text", text: next.text, tokenIds: next.ids } : { kind: "text", text: next.text };
            if (!this.nc.isClosed()) this.nc.publish(this.s.worker(worker, "ctl"), encode({ id, attempt, ack: next.seq } satisfies ControlMessage));
          } else if (next.t === "done") {
            finished = true;
            const result = { ...next.result, text: delivered.length > 0 && attempt > 1 ? delivered : next.result.text };
            if (attempt > 1) result.text = delivered; // every piece passed through here
            yield { kind: "done", result };
            return;
          } else if (next.t === "error") {
            const error = fromWire(next.error);
            if (isCodedError(error) && error.code === "BUSY" && pieces === 0) {
              lost = false;
              break; // another worker may have room
            }
            finished = true;
            throw error;
          } else {
            this.log.info({ request: id, worker }, "generation handed back by a draining worker");
            break; // handback: continue elsewhere
          }
        }
        if (lost) {
          this.counters.workerFailures++;
          this.avoid.set(worker, Date.now() + this.o.avoidMs);
          this.members.delete(worker);
          this.log.warn({ request: id, worker, delivered: pieces }, "worker lost mid-generation; resubmitting");
        }
        this.counters.resubmits++;
        worker = undefined;
      }
    } finally {
      if (!finished) cancel();
      request.signal?.removeEventListener("abort", onAbort);
      this.active.delete(onAbort);
      this.inFlight--;
      sub.unsubscribe();
    }
  }

  /** Offers a call: first to the queue group, later tries directly to the least busy live worker not avoided. Returns the worker, or undefined when it was busy. */
  private async submit(call: GenerateCall, attempt: number): Promise<string | undefined> {
    const pick = attempt > 1 ? this.pick(call.modelId) : undefined;
    const subject = pick ? this.s.worker(pick, "generate") : this.s.generate(call.modelId);
    let reply: CallReply;
    try {
      reply = await this.request<CallReply>(subject, call, call.modelId);
    } catch (error) {
      if (pick && isCodedError(error)) {
        this.avoid.set(pick, Date.now() + this.o.avoidMs);
        return undefined;
      }
      throw error;
    }
    if ("error" in reply) throw fromWire(reply.error);
    if ("busy" in reply) {
      await sleep(Math.min(50 * attempt, 250));
      return undefined;
    }
    return reply.worker;
  }

  private pick(modelId: string): string | undefined {
    const now = Date.now();
    const candidates = this.workers().filter(
      (w) => !w.draining && w.inFlight < w.maxInFlight && w.models.some((m) => m.id === modelId) && (this.avoid.get(w.worker) ?? 0) < now,
    );
    candidates.sort((a, b) => a.inFlight / a.maxInFlight - b.inFlight / b.maxInFlight);
    return candidates[0]?.worker;
  }

  private async alive(worker: string): Promise<boolean> {
    try {
      await this.nc.request(this.s.worker(worker, "ping"), undefined, { timeout: this.o.requestTimeoutMs });
      return true;
    } catch {
      return false;
    }
  }

  // ---- legacy step sessions ----
  async step(request: StepRequest): Promise<StepResult> {
    this.checkOpen(request.modelId);
    if (request.signal?.aborted) throw errors.cancelled("The step was cancelled before it ran.");
    let session = this.sessions.get(request.sessionId);
    if (request.step !== 0) {
      if (!session) throw errors.sessionNotFound(request.sessionId);
      if (session.running !== undefined) throw errors.sessionBusy(request.sessionId, session.running);
      const last = session.history.length - 1;
      if (request.step !== last + 1) throw errors.stepOutOfOrder(request.sessionId, last + 1, request.step);
      if (request.modelId !== session.modelId) throw errors.invalidRequest("A session stays on the model it started with.", "model_id");
    } else if (session?.running !== undefined) {
      throw errors.sessionBusy(request.sessionId, session.running);
    }
    const call: StepCall = {
      sessionId: `${this.id}/${request.sessionId}`, modelId: request.modelId, step: request.step,
      inputIds: request.inputIds, ...(request.attentionMask ? { attentionMask: request.attentionMask } : {}),
    };
    if (request.step === 0) {
      session = { modelId: request.modelId, worker: session?.worker, history: [] };
      this.sessions.set(request.sessionId, session);
    }
    const s = session!;
    s.running = request.step;
    try {
      for (let attempt = 1; ; attempt++) {
        if (attempt > this.o.maxAttempts) throw errors.busy("No model worker could run this step; try again later.", { reason: "attempts_exhausted" });
        try {
          if (!s.worker || (request.step > 0 && !(await this.alive(s.worker)))) {
            // Not pinned, or its worker died: start on any worker, replaying the history first.
            if (s.worker) {
              this.log.warn({ session: request.sessionId, worker: s.worker }, "session's worker lost; replaying its history");
              this.avoid.set(s.worker, Date.now() + this.o.avoidMs);
              this.counters.replays++;
            }
            s.worker = undefined;
            const calls = request.step === 0 ? [call] : [...s.history, call];
            let result: StepResult | undefined;
            for (const c of calls) result = await this.stepOn(c, s);
            s.history = [...s.history.filter((h) => h.step < call.step), call];
            return result!;
          }
          const result = await this.stepOn(call, s);
          s.history = [...s.history.filter((h) => h.step < call.step), call];
          return result;
        } catch (error) {
          if (!(error instanceof WorkerLost)) throw error;
          this.counters.workerFailures++;
        }
      }
    } finally {
      s.running = undefined;
      if (request.step === 0 && s.history.length === 0) this.sessions.delete(request.sessionId);
    }
  }

  /** One step on the session's worker (or any, through the queue group, pinning the one that answers). */
  private async stepOn(call: StepCall, s: GatewaySession): Promise<StepResult> {
    const subject = s.worker ? this.s.worker(s.worker, "step") : this.s.step(call.modelId);
    const ask = this.nc.request(subject, encode(call), { timeout: 24 * 3600_000 });
    // The step may wait behind generations on its worker: ping it meanwhile instead of timing out.
    let settled = false;
    const watchdog = (async () => {
      while (!settled) {
        await sleep(this.o.stepIdleMs);
        if (settled || !s.worker) continue;
        if (!(await this.alive(s.worker))) return "lost" as const;
      }
      return "done" as const;
    })();
    let msg: Msg;
    try {
      const raced = await Promise.race([ask, watchdog]);
      if (raced === "lost") throw new WorkerLost();
      msg = raced as Msg;
    } catch (error) {
      if (error instanceof WorkerLost) {
        s.worker = undefined;
        throw error;
      }
      const coded = natsError(error, call.modelId);
      if (s.worker) {
        s.worker = undefined;
        throw new WorkerLost(); // no responders on its own subject: gone
      }
      throw coded;
    } finally {
      settled = true;
    }
    const reply = decode<{ ok: true; worker: string; result: StepResult } | { busy: true } | { error: WireError }>(msg.data);
    if ("error" in reply) throw fromWire(reply.error);
    if ("busy" in reply) {
      await sleep(50);
      throw new WorkerLost();
    }
    s.worker = reply.worker;
    return { ...reply.result, sessionId: call.sessionId.slice(this.id.length + 1) };
  }

  /** The worker holding a session's cache now (undefined: none yet, or it was lost). */
  pinnedWorker(sessionId: string): string | undefined {
    return this.sessions.get(sessionId)?.worker;
  }

  closeSession(sessionId: string): boolean {
    const s = this.sessions.get(sessionId);
    if (!s) return false;
    this.sessions.delete(sessionId);
    if (s.worker && !this.nc.isClosed()) this.nc.publish(this.s.worker(s.worker, "close"), encode({ sessionId: `${this.id}/${sessionId}` }));
    return true;
  }

  stats(): PipelineStats {
    return {
      activeSessions: this.sessions.size,
      generationsInFlight: this.inFlight,
      cacheBytes: 0,
      workers: this.workers().length,
      ...this.counters,
    } as PipelineStats;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const cancel of this.active) cancel();
      for (const id of [...this.sessions.keys()]) this.closeSession(id);
      if (this.nc.isClosed()) return;
      if (!this.connected) return void (await this.nc.close()); // nothing to flush to
      await this.nc.flush().catch(() => {});
      await this.nc.drain().catch(() => this.nc.close());
    })();
    return this.closing;
  }
}

function unreachable() {
  return errors.busy("The model service is unreachable right now; try again later.", { reason: "nats_unavailable" });
}

/** A NATS failure as a coded error. */
function natsError(error: unknown, modelId?: string): Error {
  const name = (error as Error)?.name ?? "";
  const text = String((error as Error)?.message ?? error);
  if (name === "NoRespondersError" || /no responders/i.test(text)) {
    return errors.busy(`No model worker serves ${modelId === undefined ? "this" : `"${modelId.slice(0, 100)}"`} right now; try again later.`, { reason: "no_workers" });
  }
  if (name === "TimeoutError" || /timeout/i.test(text)) return errors.busy("The model workers did not answer in time; try again later.", { reason: "timeout" });
  return unreachable();
}

function safeDecode(msg: Msg): StreamMessage | undefined {
  try {
    return decode<StreamMessage>(msg.data);
  } catch {
    return undefined;
  }
}

/** Messages pushed by a subscription, awaited one at a time with an idle time-out. */
class Mailbox<T> {
  private readonly queue: (T | undefined)[] = [];
  private waiter?: (m: T | undefined) => void;
  push(m: T | undefined) {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w(m);
    } else this.queue.push(m);
  }
  async next(timeoutMs: number, keep: (m: T | undefined) => boolean): Promise<T | undefined | "timeout"> {
    while (this.queue.length > 0) {
      const m = this.queue.shift();
      if (keep(m)) return m;
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve("timeout");
      }, timeoutMs);
      this.waiter = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
    });
  }
}
