/**
 * What a worker answers: generations, steps and tokenizer calls on its models' queue-group
 * subjects (shared with the other workers) and on its own subjects (direct picks, pinned
 * sessions, pings, control messages, closing sessions).
 */
import { QUEUE_GROUP, decode, encode, toWire, type Subjects, type CallReply, type ControlMessage, type GenerateCall, type StepCall, type TokCall } from "./protocol.js";
import type { Msg, Subscription } from "@nats-io/transport-node";
import { errors, type ModelPipeline } from "@modelnode/core/pipeline";
import { ServedStream, type ServingContext } from "./served-stream.js";
import type { ServedStreams } from "./served-streams.js";

export class RequestServer {
  /** The models' queue-group subscriptions, left first when draining. */
  private readonly queueSubs: Subscription[] = [];
  /** This worker's own subjects, kept until the last stream has ended. */
  private readonly ownSubs: Subscription[] = [];
  /** The steps taken in and not answered yet (`<session>#<step>`), which a ping may ask about. */
  private readonly stepsRunning = new Set<string>();

  constructor(
    private readonly workerId: string,
    private readonly subjects: Subjects,
    private readonly streams: ServedStreams,
    private readonly ctx: ServingContext,
  ) {}

  listen(): void {
    const { subjects: s, workerId: id } = this;
    const on = (subject: string, handle: (msg: Msg) => void, queue?: string) =>
      this.ctx.connection.subscribe(subject, { ...(queue ? { queue } : {}), callback: (_e, msg) => handle(msg) });
    for (const model of this.ctx.pipeline.listModels()) {
      this.queueSubs.push(on(s.generate(model.id), (m) => this.onGenerate(m), QUEUE_GROUP));
      this.queueSubs.push(on(s.step(model.id), (m) => void this.onStep(m, true), QUEUE_GROUP));
      this.queueSubs.push(on(s.tok(model.id), (m) => void this.onTok(m), QUEUE_GROUP));
    }
    this.ownSubs.push(on(s.worker(id, "generate"), (m) => this.onGenerate(m)));
    this.ownSubs.push(on(s.worker(id, "step"), (m) => void this.onStep(m, false)));
    this.ownSubs.push(on(s.worker(id, "ctl"), (m) => this.onControl(m)));
    this.ownSubs.push(on(s.worker(id, "ping"), (m) => this.onPing(m)));
    this.ownSubs.push(on(s.worker(id, "close"), (m) => this.onCloseSession(m)));
  }

  /** Stops taking new work from the queue groups; direct subjects still answer. */
  leaveQueueGroups(): void {
    for (const sub of this.queueSubs) sub.unsubscribe();
  }

  stop(): void {
    for (const sub of this.ownSubs) sub.unsubscribe();
  }

  private onGenerate(msg: Msg): void {
    const { workerId: id, ctx } = this;
    let call: GenerateCall;
    try {
      call = decode<GenerateCall>(msg.data);
    } catch {
      return reply(msg, { error: toWire(errors.invalidRequest("Unreadable request.")) } satisfies CallReply);
    }
    const refusal = this.streams.refusal();
    if (refusal) return reply(msg, { busy: true, worker: id, reason: refusal } satisfies CallReply);
    if (!ctx.pipeline.hasModel(call.modelId)) {
      return reply(msg, { error: toWire(errors.modelNotFound(call.modelId, ctx.pipeline.listModels().map((m) => m.id))) } satisfies CallReply);
    }
    const stream = new ServedStream(call, ctx);
    this.streams.add(stream);
    reply(msg, { ok: true, worker: id } satisfies CallReply);
    this.streams.run(stream);
  }

  /**
   * Alive; and, when the ping names a stream ({ id, attempt }) or a step ({ session, step }),
   * whether this worker still has it (a stream running, or ended and not acknowledged; a step
   * taken in and not answered): a gateway that lacks it learns that something was lost.
   */
  private onPing(msg: Msg): void {
    let known: boolean | undefined;
    try {
      if (msg.data.length > 0) {
        const what = decode<{ id: string; attempt: number } | { session: string; step: number }>(msg.data);
        known = "session" in what ? this.stepsRunning.has(`${what.session}#${what.step}`) : this.streams.get(what.id, what.attempt) !== undefined;
      }
    } catch {}
    reply(msg, { ok: true, worker: this.workerId, inFlight: this.streams.size, ...(known !== undefined ? { known } : {}) });
  }

  private onControl(msg: Msg): void {
    let ctl: ControlMessage;
    try {
      ctl = decode<ControlMessage>(msg.data);
    } catch {
      return;
    }
    this.streams.get(ctl.id, ctl.attempt)?.onControl(ctl);
  }

  private async onStep(msg: Msg, queued: boolean): Promise<void> {
    let call: StepCall;
    try {
      call = decode<StepCall>(msg.data);
    } catch {
      return reply(msg, { error: toWire(errors.invalidRequest("Unreadable request.")) });
    }
    if (queued && this.streams.draining) return reply(msg, { busy: true, worker: this.workerId, reason: "draining" });
    const key = `${call.sessionId}#${call.step}`;
    this.stepsRunning.add(key);
    try {
      const result = await this.ctx.pipeline.step({ ...call });
      reply(msg, { ok: true, worker: this.workerId, result });
    } catch (error) {
      reply(msg, { error: toWire(error), worker: this.workerId });
    } finally {
      this.stepsRunning.delete(key);
    }
  }

  private async onTok(msg: Msg): Promise<void> {
    const { pipeline } = this.ctx;
    try {
      const call = decode<TokCall>(msg.data);
      const value =
        call.op === "tokenize" ? await pipeline.tokenize(call.modelId, call.text ?? "")
        : call.op === "countTokens" ? await pipeline.countTokens(call.modelId, call.text ?? "")
        : call.op === "countChatTokens" ? await countChat(pipeline, call)
        : call.op === "tokenizeChat" ? await tokenizeChat(pipeline, call)
        : await pipeline.detokenize(call.modelId, call.ids ?? []);
      reply(msg, { ok: true, value });
    } catch (error) {
      reply(msg, { error: toWire(error) });
    }
  }

  private onCloseSession(msg: Msg): void {
    try {
      const { sessionId } = decode<{ sessionId: string }>(msg.data);
      reply(msg, { ok: this.ctx.pipeline.closeSession(sessionId) });
    } catch {
      reply(msg, { ok: false });
    }
  }
}

function reply(msg: Msg, value: unknown): void {
  if (msg.reply) msg.respond(encode(value));
}

/** A chat's tokens, by the worker's pipeline when it can count chats. */
function countChat(pipeline: ModelPipeline, call: TokCall): Promise<number> {
  if (!pipeline.countChatTokens) throw errors.invalidRequest("This worker's pipeline cannot count a chat's tokens.", "messages");
  return pipeline.countChatTokens(call.modelId, call.messages ?? [], call.tools);
}

/** A chat's token ids, by the worker's pipeline when it can tokenize chats. */
function tokenizeChat(pipeline: ModelPipeline, call: TokCall): Promise<number[]> {
  if (!pipeline.tokenizeChat) throw errors.invalidRequest("This worker's pipeline cannot tokenize a chat.", "messages");
  return pipeline.tokenizeChat(call.modelId, call.messages ?? [], call.tools);
}
