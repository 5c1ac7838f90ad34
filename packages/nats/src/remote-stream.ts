/**
 * One generation run on the workers, try after try: offers it (RetryPolicy, WorkerPicker), streams
 * each accepted try through a StreamAttempt, keeps what was delivered so a later try resumes it,
 * and cancels the running try when the caller aborts or stops reading.
 *
 * States: `waiting` (the first try is being offered), `streaming` (a worker accepted the current
 * try), `resuming` (a later try is being offered, continuing what was delivered), `done`.
 */
import { errors, isCodedError, type GenerateRequest, type GenerationEvent, type GenerationResult, type ResumeFrom, type TokenLogprob } from "@modelnode/core/pipeline";
import type { Msg } from "@nats-io/transport-node";
import { adjustmentsOf, decode, fromWire, type CallReply, type GenerateCall, type StreamMessage } from "./protocol.js";
import type { GatewayParts } from "./gateway-parts.js";
import { Mailbox } from "./mailbox.js";
import { StreamAttempt, type Piece } from "./stream-attempt.js";
import { unreachable } from "./gateway-link.js";
import { sleep } from "./gateway-options.js";

export type RemoteStreamState = "waiting" | "streaming" | "resuming" | "done";

/** What a RemoteStream uses of its gateway. */
export interface StreamContext extends GatewayParts {
  /** Credit window offered to the worker. */
  window: number;
  /** Quiet time before the worker is pinged. */
  idleMs: number;
  /** After a NATS server's death or restart: how long to wait for NATS, or for a worker to take the resumed try. */
  recoveryMs: number;
  countTokens(modelId: string, text: string): Promise<number>;
}

/**
 * What the client has been given so far, which a later try continues. A request that arrived with
 * `resume` (a client continuing a stream another gateway served) starts from it: its ids,
 * characters and sampler state come first, so a worker lost later resumes from the whole
 * generation's state.
 */
class Delivered {
  /** The text delivered through this gateway (after the request's resume, when it had one). */
  text = "";
  pieces = 0;
  /** The token ids generated so far (the request's resume's first), while every piece has said them (else undefined). */
  ids: number[] | undefined;
  /** The pipeline's sampler state after the last delivered piece (or the request's resume), when it said one. */
  samplerState: string | undefined;
  /** The log probabilities of the delivered pieces' tokens (when asked for). */
  readonly logprobs: TokenLogprob[] = [];
  /** Characters delivered before this gateway's first piece (the request's resume). */
  private readonly charsBefore: number;

  /** `from`: the request's resume; `seeded` then, and every try continues from it. */
  constructor(readonly from: ResumeFrom | undefined) {
    this.ids = from ? [...from.generatedIds] : [];
    this.charsBefore = from?.deliveredChars ?? 0;
    this.samplerState = from?.samplerState;
  }

  get seeded(): boolean {
    return this.from !== undefined;
  }

  add(piece: Piece): void {
    this.text += piece.text;
    if (piece.lp) this.logprobs.push(...piece.lp);
    this.pieces = piece.n;
    // The latest piece's, or none: an older one's state would not follow the ids delivered since.
    this.samplerState = typeof piece.ss === "string" ? piece.ss : undefined;
    if (this.ids && Array.isArray(piece.ids)) this.ids.push(...piece.ids);
    else this.ids = undefined;
  }

  /** GenerateCall.resume: the ids (exact continuation) only when every piece said them, with the sampler's state when the last piece said it. */
  resume(): NonNullable<GenerateCall["resume"]> {
    if (!this.ids) return { text: this.text, pieces: this.pieces };
    const exact = { text: this.text, pieces: this.pieces, generatedIds: this.ids, deliveredChars: this.charsBefore + this.text.length };
    return this.samplerState !== undefined ? { ...exact, samplerState: this.samplerState } : exact;
  }
}

export class RemoteStream {
  readonly id: string;
  private state: RemoteStreamState = "waiting";
  /** The number of the current try (1-based; 0 before the first). */
  private attempt = 0;
  /** The running try, while `streaming`. */
  private current?: StreamAttempt;
  private readonly delivered: Delivered;
  private readonly mailbox = new Mailbox<StreamMessage>();
  /** Tries that did not count against maxAttempts: re-offers while NATS or the workers came back. */
  private freeTries = 0;
  /** Until when offers that find no worker (or no NATS) are tried again: set when a try was lost. */
  private recoverUntil = 0;

  constructor(
    private readonly ctx: StreamContext,
    private readonly request: GenerateRequest,
  ) {
    this.id = `${ctx.gatewayId}-${Math.random().toString(36).slice(2)}`;
    this.delivered = new Delivered(request.resume);
  }

  get status(): RemoteStreamState {
    return this.state;
  }

  /** The gateway reconnected: the running try asks again for what may have been lost. */
  resync(): void {
    if (this.state === "streaming") this.current?.sync();
  }

  /** A worker is suspected gone: when it runs the current try, check it now instead of after idleMs. */
  workerSuspected(worker: string): void {
    if (this.state === "streaming" && this.current?.worker === worker) this.current.checkNow();
  }

  /** Asks the worker running the current try to stop; nothing to do in any other state. */
  cancel(): void {
    if (this.state === "streaming") this.current?.cancel();
  }

  async *run(): AsyncGenerator<GenerationEvent> {
    const { link, retry } = this.ctx;
    const { signal } = this.request;
    const { inbox, subscription } = link.subscribeInbox((msg) => this.mailbox.push(safeDecode(msg)));
    const onAbort = () => this.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        this.attempt++;
        this.state = this.attempt > 1 ? "resuming" : "waiting";
        retry.check(this.attempt - this.freeTries, "generation");
        if (signal?.aborted) return yield* this.cancelledBetweenTries();
        if (this.delivered.pieces > 0 && this.request.prompt === undefined && !this.delivered.ids) {
          throw errors.busy("The model worker serving this chat stopped, and its pipeline does not report token ids, so the chat cannot be continued on another one.", { reason: "worker_lost" });
        }
        if (this.delivered.seeded && !this.delivered.ids) {
          // The text of the request's resume is the client's, not ours: only ids can continue it.
          throw errors.busy("The model worker serving this resumed generation stopped, and its pipeline does not report token ids, so it cannot be continued on another one.", { reason: "worker_lost" });
        }
        const worker = await this.offer(this.callFor(inbox));
        if (!worker) continue; // busy: try again
        let end: "finished" | "again";
        try {
          end = yield* this.streamFrom(worker);
        } finally {
          this.ctx.picker.release(worker); // reserved by offer()
        }
        if (end === "finished") return;
        this.ctx.counters.resubmits++;
      }
    } finally {
      this.cancel(); // still streaming: the caller stopped reading, or an error cut in
      this.state = "done";
      signal?.removeEventListener("abort", onAbort);
      subscription.unsubscribe();
    }
  }

  /** Streams one accepted try; "again" when the generation must go on with another try. */
  private async *streamFrom(worker: string): AsyncGenerator<GenerationEvent, "finished" | "again"> {
    const { ctx } = this;
    const attempt = new StreamAttempt(ctx.link, ctx, this.mailbox, this.id, this.attempt, worker);
    this.current = attempt;
    this.state = "streaming";
    const end = yield* attempt.events((piece) => this.delivered.add(piece));
    switch (end.t) {
      case "done":
        this.state = "done";
        yield { kind: "done", result: this.finalResult(end.result) };
        return "finished";
      case "error":
        if (ctx.retry.retriesError(end.error, this.delivered.pieces)) break; // another worker may have room
        this.state = "done";
        throw end.error;
      case "handback":
        ctx.log.info({ request: this.id, worker }, "generation handed back by a draining worker");
        break;
      case "lost":
        ctx.counters.workerFailures++;
        ctx.picker.lost(worker);
        ctx.log.warn({ request: this.id, worker, delivered: this.delivered.pieces }, "worker lost mid-generation; resubmitting");
        attempt.cancel(); // if it is only reconnecting, it stops instead of waiting for acknowledgements
        this.recoverUntil = Date.now() + ctx.recoveryMs;
        break;
      case "unreachable":
        this.state = "done";
        throw unreachable();
    }
    this.current = undefined;
    this.state = "resuming";
    return "again";
  }

  /** A resumed generation's text is every piece that passed through here; the last worker knows only its part. */
  private finalResult(result: GenerationResult): GenerationResult {
    // A seeded stream's tries all continue from token ids: the last worker decoded them all.
    if (this.attempt <= 1 || this.delivered.seeded) return result;
    return { ...result, text: this.delivered.text, ...(this.request.logprobs !== undefined ? { logprobs: this.delivered.logprobs } : {}) };
  }

  /** Aborted while no try runs: done, with what was delivered. */
  private async *cancelledBetweenTries(): AsyncGenerator<GenerationEvent, void> {
    const { prompt, modelId } = this.request;
    const promptTokens = prompt !== undefined ? await this.ctx.countTokens(modelId, prompt).catch(() => 0) : 0;
    this.state = "done";
    // A seeded stream's count includes the ids of the request's resume (delivered elsewhere).
    const { seeded, ids, pieces } = this.delivered;
    const completionTokens = seeded && ids ? ids.length : pieces;
    yield { kind: "done", result: { text: this.delivered.text, finishReason: "cancelled", usage: { promptTokens, completionTokens } } };
  }

  private callFor(inbox: string): GenerateCall {
    const r = this.request;
    return {
      id: this.id, attempt: this.attempt, inbox, gateway: this.ctx.gatewayId, modelId: r.modelId, prompt: r.prompt,
      messages: r.messages as GenerateCall["messages"], maxTokens: r.maxTokens, temperature: r.temperature,
      topK: r.topK, topP: r.topP, seed: r.seed, stop: r.stop, ...adjustmentsOf(r), window: this.ctx.window,
      ...(r.grammar ? { grammar: r.grammar } : {}),
      ...(r.tools ? { tools: r.tools } : {}),
      ...(r.toolChoice !== undefined ? { toolChoice: r.toolChoice } : {}),
      ...(r.parallelToolCalls !== undefined ? { parallelToolCalls: r.parallelToolCalls } : {}),
      ...(this.delivered.pieces > 0 || this.attempt > 1 || this.delivered.seeded ? { resume: this.delivered.resume() } : {}),
    };
  }

  /**
   * Offers a try to the worker the picker names (or the queue group). Returns the worker that
   * accepted, with the try counted in its load (the caller releases it when the try ends), or
   * undefined when it was busy.
   */
  private async offer(call: GenerateCall): Promise<string | undefined> {
    const { picker } = this.ctx;
    const direct = picker.forGenerationTry(call.modelId);
    if (direct) picker.reserve(direct);
    let accepted: string | undefined;
    try {
      accepted = await this.ask(call, direct);
    } finally {
      if (direct && accepted !== direct) picker.release(direct);
    }
    if (accepted) {
      if (accepted !== direct) picker.reserve(accepted); // the queue group's pick
      picker.accepted(accepted);
    }
    return accepted;
  }

  private async ask(call: GenerateCall, direct: string | undefined): Promise<string | undefined> {
    const { link, picker, retry } = this.ctx;
    const subject = direct ? link.subjects.worker(direct, "generate") : link.subjects.generate(call.modelId);
    let reply: CallReply;
    try {
      if (Date.now() < this.recoverUntil) await link.reconnected(this.recoverUntil - Date.now());
      reply = await link.request<CallReply>(subject, call, call.modelId);
    } catch (error) {
      // No responders: that worker is gone. A time-out may be a busy worker: not avoided, the
      // next try is picked by load again.
      if (direct && isCodedError(error) && (error.details as { reason?: string } | undefined)?.reason === "no_workers") picker.avoid(direct);
      if (isCodedError(error) && Date.now() < this.recoverUntil) {
        // Recovering from a lost try (NATS or the workers are coming back): wait, and offer again
        // under a new try number (the lost reply may have been an acceptance) without using up a try.
        this.freeTries++;
        await sleep(Math.min(100 * this.freeTries, 500));
        return undefined;
      }
      if (direct && isCodedError(error)) return undefined;
      throw error;
    }
    if ("error" in reply) throw fromWire(reply.error);
    if ("busy" in reply) {
      await retry.afterBusyGeneration(call.attempt);
      return undefined;
    }
    return reply.worker;
  }
}

function safeDecode(msg: Msg): StreamMessage | undefined {
  try {
    return decode<StreamMessage>(msg.data);
  } catch {
    return undefined;
  }
}
