/**
 * A model worker: runs a ModelPipeline behind NATS, with no socket of its own. It serves each of
 * the pipeline's models on queue-group subjects (so N workers share the load), answers `busy`
 * when its own in-flight cap is reached (the gateway then tries another), streams pieces on the
 * gateway's per-request inbox in order, numbered, within a credit window, and drains on request.
 */
import { connect, type NatsConnection, type Msg, type Subscription } from "@nats-io/transport-node";
import { errors, type GenerateRequest, type ModelPipeline } from "@modelnode/core/pipeline";
import {
  DEFAULT_PREFIX, QUEUE_GROUP, decode, encode, subjects, toWire,
  type CallReply, type ControlMessage, type GenerateCall, type Heartbeat, type StepCall, type StreamMessage, type TokCall,
} from "./protocol.js";

export interface MinimalLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface WorkerOptions {
  /** NATS server URL(s), e.g. "nats://127.0.0.1:4222". */
  servers: string | string[];
  pipeline: ModelPipeline;
  /** The worker's id on the subjects (letters, digits, - and _). Default: random. */
  name?: string;
  prefix?: string;
  /** Generations run at once; one more is answered `busy`. Default 4. */
  maxInFlight?: number;
  /** Heartbeat period. Default 1000 ms. */
  heartbeatMs?: number;
  /**
   * With the credit window full, how long to wait for an acknowledgement before giving up on the
   * gateway (it died, or its client stopped reading) and cancelling the generation. Default 30 s.
   */
  ackTimeoutMs?: number;
  /** Close the pipeline when the worker closes. Default true. */
  closePipeline?: boolean;
  logger?: MinimalLogger;
}

interface Job {
  id: string;
  attempt: number;
  abort: AbortController;
  acked: number;
  handedBack: boolean;
  wake?: () => void;
  done: Promise<void>;
}

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

const noop: MinimalLogger = { info() {}, warn() {}, error() {} };

export async function startWorker(options: WorkerOptions): Promise<ModelWorker> {
  const id = options.name ?? `w${Math.random().toString(36).slice(2, 10)}`;
  if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new Error(`worker name "${id}": use letters, digits, - and _`);
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const s = subjects(prefix);
  const pipeline = options.pipeline;
  const maxInFlight = options.maxInFlight ?? 4;
  const ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
  const log = options.logger ?? noop;
  const nc = await connect({ servers: options.servers, name: `modelnode-worker-${id}`, maxReconnectAttempts: -1 });
  const jobs = new Map<string, Job>();
  let draining = false;
  let closed: Promise<void> | undefined;

  const heartbeat = (): Heartbeat => ({ worker: id, models: pipeline.listModels(), inFlight: jobs.size, maxInFlight, draining });
  const publishHeartbeat = () => {
    if (!nc.isClosed()) nc.publish(s.heartbeat, encode(heartbeat()));
  };

  const reply = (msg: Msg, value: unknown) => {
    if (msg.reply) msg.respond(encode(value));
  };

  const onGenerate = (msg: Msg) => {
    let call: GenerateCall;
    try {
      call = decode<GenerateCall>(msg.data);
    } catch {
      return reply(msg, { error: toWire(errors.invalidRequest("Unreadable request.")) } satisfies CallReply);
    }
    if (draining) return reply(msg, { busy: true, worker: id, reason: "draining" } satisfies CallReply);
    if (jobs.size >= maxInFlight) return reply(msg, { busy: true, worker: id, reason: "full" } satisfies CallReply);
    if (!pipeline.hasModel(call.modelId)) {
      return reply(msg, { error: toWire(errors.modelNotFound(call.modelId, pipeline.listModels().map((m) => m.id))) } satisfies CallReply);
    }
    const key = `${call.id}#${call.attempt}`;
    const job: Job = { id: call.id, attempt: call.attempt, abort: new AbortController(), acked: 0, handedBack: false, done: Promise.resolve() };
    jobs.set(key, job);
    reply(msg, { ok: true, worker: id } satisfies CallReply);
    job.done = runGeneration(call, job).finally(() => {
      jobs.delete(key);
      job.wake?.();
    });
  };

  async function runGeneration(call: GenerateCall, job: Job): Promise<void> {
    let seq = 0;
    const send = (m: StreamMessage) => nc.publish(call.inbox, encode(m));
    const resume = call.resume;
    let n = resume?.pieces ?? 0;
    const handback = () => send({ t: "handback", attempt: call.attempt, seq: ++seq });
    try {
      const request: GenerateRequest = {
        modelId: call.modelId,
        signal: job.abort.signal,
        temperature: call.temperature,
        topK: call.topK,
        topP: call.topP,
        seed: call.seed,
        stop: call.stop,
      };
      const exact = resume?.generatedIds !== undefined;
      if (resume && exact) {
        // Continue from the token ids generated so far, after the original prompt or chat: the
        // pipeline feeds them as they were and emits only the text past what was delivered.
        if (call.prompt !== undefined) request.prompt = call.prompt;
        if (call.messages !== undefined) request.messages = call.messages as GenerateRequest["messages"];
        request.maxTokens = call.maxTokens;
        request.resume = { generatedIds: resume.generatedIds!, deliveredChars: resume.deliveredChars ?? resume.text.length };
      } else if (resume) {
        // No token ids (the pipeline does not report them): continue from the prompt plus what
        // the client already has, which greedy decoding continues exactly only when the tokenizer
        // round-trips that text.
        request.prompt = (call.prompt ?? "") + resume.text;
        if (call.maxTokens !== undefined) request.maxTokens = call.maxTokens - resume.pieces;
      } else {
        if (call.prompt !== undefined) request.prompt = call.prompt;
        if (call.messages !== undefined) request.messages = call.messages as GenerateRequest["messages"];
        request.maxTokens = call.maxTokens;
      }
      if (request.maxTokens !== undefined && request.maxTokens <= 0) {
        const promptTokens = await pipeline.countTokens(call.modelId, call.prompt ?? "");
        send({ t: "done", attempt: call.attempt, seq: ++seq, result: { text: "", finishReason: "length", usage: { promptTokens, completionTokens: 0 } } });
        return;
      }
      for await (const event of pipeline.stream(request)) {
        if (job.handedBack) return handback();
        if (event.kind === "text") {
          n++;
          seq++;
          await credit(job, seq, call.window);
          if (job.handedBack) return handback();
          send({ t: "text", attempt: call.attempt, seq, n, text: event.text, ...(event.tokenIds ? { ids: event.tokenIds } : {}) });
        } else {
          const result = { ...event.result };
          if (resume && !exact) {
            const promptTokens = await pipeline.countTokens(call.modelId, call.prompt ?? "").catch(() => result.usage.promptTokens);
            result.usage = { promptTokens, completionTokens: resume.pieces + result.usage.completionTokens };
          }
          send({ t: "done", attempt: call.attempt, seq: ++seq, result });
        }
      }
    } catch (error) {
      if (job.handedBack) return handback();
      if (!(error as { code?: string }).code) log.error({ err: error, request: call.id }, "generation failed");
      send({ t: "error", attempt: call.attempt, seq: ++seq, error: toWire(error) });
    }
  }

  /** Waits until piece `seq` fits the window; gives up (cancelling) when no acknowledgement comes for ackTimeoutMs. */
  async function credit(job: Job, seq: number, window: number): Promise<void> {
    while (seq - job.acked > window && !job.abort.signal.aborted && !job.handedBack) {
      const progressed = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), ackTimeoutMs);
        job.wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      job.wake = undefined;
      if (!progressed) {
        log.warn({ request: job.id }, "no acknowledgement from the gateway: cancelling the generation");
        job.abort.abort(new Error("gateway gone"));
      }
    }
  }

  const onControl = (msg: Msg) => {
    let ctl: ControlMessage;
    try {
      ctl = decode<ControlMessage>(msg.data);
    } catch {
      return;
    }
    const job = jobs.get(`${ctl.id}#${ctl.attempt}`);
    if (!job) return;
    if ("cancel" in ctl) job.abort.abort(new Error("cancelled by the gateway"));
    else if (ctl.ack > job.acked) job.acked = ctl.ack;
    job.wake?.();
  };

  const onStep = async (msg: Msg, queued: boolean) => {
    let call: StepCall;
    try {
      call = decode<StepCall>(msg.data);
    } catch {
      return reply(msg, { error: toWire(errors.invalidRequest("Unreadable request.")) });
    }
    if (queued && draining) return reply(msg, { busy: true, worker: id, reason: "draining" });
    try {
      const result = await pipeline.step({ ...call });
      reply(msg, { ok: true, worker: id, result });
    } catch (error) {
      reply(msg, { error: toWire(error), worker: id });
    }
  };

  const onTok = async (msg: Msg) => {
    try {
      const call = decode<TokCall>(msg.data);
      const value =
        call.op === "tokenize" ? await pipeline.tokenize(call.modelId, call.text ?? "")
        : call.op === "countTokens" ? await pipeline.countTokens(call.modelId, call.text ?? "")
        : await pipeline.detokenize(call.modelId, call.ids ?? []);
      reply(msg, { ok: true, value });
    } catch (error) {
      reply(msg, { error: toWire(error) });
    }
  };

  const queueSubs: Subscription[] = [];
  const ownSubs: Subscription[] = [];
  for (const model of pipeline.listModels()) {
    queueSubs.push(nc.subscribe(s.generate(model.id), { queue: QUEUE_GROUP, callback: (_e, m) => onGenerate(m) }));
    queueSubs.push(nc.subscribe(s.step(model.id), { queue: QUEUE_GROUP, callback: (_e, m) => void onStep(m, true) }));
    queueSubs.push(nc.subscribe(s.tok(model.id), { queue: QUEUE_GROUP, callback: (_e, m) => void onTok(m) }));
  }
  ownSubs.push(nc.subscribe(s.worker(id, "generate"), { callback: (_e, m) => onGenerate(m) }));
  ownSubs.push(nc.subscribe(s.worker(id, "step"), { callback: (_e, m) => void onStep(m, false) }));
  ownSubs.push(nc.subscribe(s.worker(id, "ctl"), { callback: (_e, m) => onControl(m) }));
  ownSubs.push(nc.subscribe(s.worker(id, "ping"), { callback: (_e, m) => reply(m, { ok: true, worker: id, inFlight: jobs.size }) }));
  ownSubs.push(
    nc.subscribe(s.worker(id, "close"), {
      callback: (_e, m) => {
        try {
          const { sessionId } = decode<{ sessionId: string }>(m.data);
          reply(m, { ok: pipeline.closeSession(sessionId) });
        } catch {
          reply(m, { ok: false });
        }
      },
    }),
  );
  ownSubs.push(nc.subscribe(s.discover, { callback: () => publishHeartbeat() }));
  await nc.flush();
  const timer = setInterval(publishHeartbeat, options.heartbeatMs ?? 1000);
  timer.unref();
  publishHeartbeat();
  log.info({ worker: id, models: pipeline.listModels().map((m) => m.id) }, "worker ready");

  async function shutdown(drainMs: number | undefined): Promise<void> {
    draining = true;
    publishHeartbeat();
    for (const sub of queueSubs) sub.unsubscribe();
    await nc.flush().catch(() => {});
    if (drainMs !== undefined && jobs.size > 0) {
      const all = Promise.all([...jobs.values()].map((j) => j.done));
      await Promise.race([all, new Promise((r) => setTimeout(r, drainMs).unref())]);
    }
    // What is still running goes back to its gateway, which continues it on another worker.
    for (const job of jobs.values()) {
      if (drainMs !== undefined) {
        job.handedBack = true;
        job.wake?.();
      }
      job.abort.abort(new Error("worker closing"));
    }
    await Promise.all([...jobs.values()].map((j) => j.done));
    clearInterval(timer);
    for (const sub of ownSubs) sub.unsubscribe();
    await nc.drain().catch(() => nc.close());
    if (options.closePipeline ?? true) await pipeline.close();
  }

  return {
    id,
    connection: nc,
    inFlight: () => jobs.size,
    drain(timeoutMs = 10_000) {
      closed ??= shutdown(timeoutMs);
      return closed;
    },
    close() {
      closed ??= shutdown(undefined);
      return closed;
    },
  };
}
