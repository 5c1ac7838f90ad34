/**
 * One generation a worker serves: runs it on the pipeline and streams its pieces to the gateway's
 * inbox, numbered, within the credit window the gateway's acknowledgements open; stops when the
 * gateway cancels or goes quiet; hands the generation back when the worker drains.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { errors, type GenerateRequest, type ModelPipeline } from "@modelnode/core/pipeline";
import { adjustmentsOf, encode, toWire, type ControlMessage, type GenerateCall, type StreamMessage } from "./protocol.js";
import type { MinimalLogger } from "./logger.js";

/** What every served stream of a worker shares. */
export interface ServingContext {
  connection: NatsConnection;
  pipeline: ModelPipeline;
  /** With the window full, how long to wait for an acknowledgement before cancelling. */
  ackTimeoutMs: number;
  log: MinimalLogger;
}

export class ServedStream {
  /** Tells this try from others of the same generation (the gateway's control messages name both). */
  readonly key: string;
  /** Settles when the stream has ended, whatever the way. */
  done: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  /** The last sequence number the gateway acknowledged. */
  private acked = 0;
  /** Set when draining: what is left goes back to the gateway instead of ending in an error. */
  private handedBack = false;
  /** The number of the last message sent. */
  private seq = 0;
  /** Wakes a wait for credit (an acknowledgement, a cancel, a hand-back, or the end). */
  private wake?: () => void;
  /** Messages sent and not acknowledged yet, the final one included: what a resend repeats. */
  private readonly unacked: StreamMessage[] = [];
  /** Set once the stream has ended; runs when its last message is acknowledged (the worker then forgets it). */
  onSettled?: () => void;

  constructor(
    private readonly call: GenerateCall,
    private readonly ctx: ServingContext,
  ) {
    this.key = streamKey(call.id, call.attempt);
  }

  /** The gateway that sent it (heartbeats count each gateway's streams). */
  get gateway(): string {
    return this.call.gateway;
  }

  /** Runs the generation; `onEnd` runs once it has ended. */
  start(onEnd: () => void): void {
    this.done = this.run().finally(() => {
      onEnd();
      this.wake?.();
    });
  }

  /** An acknowledgement or a cancellation from the gateway. */
  onControl(ctl: ControlMessage): void {
    if ("cancel" in ctl) this.abort.abort(new Error("cancelled by the gateway"));
    else {
      if (ctl.ack > this.acked) this.acked = ctl.ack;
      while (this.unacked.length > 0 && this.unacked[0].seq <= this.acked) this.unacked.shift();
      if (ctl.resend !== undefined) this.resend(ctl.resend);
      if (this.unacked.length === 0) this.onSettled?.();
    }
    this.wake?.();
  }

  /** Whether the gateway acknowledged everything sent (an ended stream then needs no keeping). */
  get settled(): boolean {
    return this.unacked.length === 0;
  }

  /**
   * Publishes again what was sent from `from` on and not acknowledged: after this worker's
   * reconnect, or when the gateway saw a gap or went quiet (messages in flight when a NATS server
   * died are gone). The gateway drops what it already has by sequence number.
   */
  resend(from = this.acked + 1): void {
    for (const message of this.unacked) if (message.seq >= from) this.publish(message);
  }

  /** The worker drains: give what is left back to the gateway, which continues it elsewhere. */
  handBack(): void {
    this.handedBack = true;
    this.wake?.();
  }

  /** Stops the generation. */
  cancel(reason: string): void {
    this.abort.abort(new Error(reason));
    this.wake?.(); // a wait for credit ends now, not after ackTimeoutMs
  }

  private send(message: StreamMessage): void {
    this.unacked.push(message);
    this.publish(message);
  }

  private publish(message: StreamMessage): void {
    if (!this.ctx.connection.isClosed()) this.ctx.connection.publish(this.call.inbox, encode(message));
  }

  private sendHandback(): void {
    this.send({ t: "handback", attempt: this.call.attempt, seq: ++this.seq });
  }

  private async run(): Promise<void> {
    const { call, ctx } = this;
    const { pipeline } = ctx;
    const resume = call.resume;
    let n = resume?.pieces ?? 0;
    try {
      const { request, exact } = pipelineRequest(call, this.abort.signal);
      if (request.maxTokens !== undefined && request.maxTokens <= 0) {
        const promptTokens = await pipeline.countTokens(call.modelId, call.prompt ?? "");
        this.send({ t: "done", attempt: call.attempt, seq: ++this.seq, result: { text: "", finishReason: "length", usage: { promptTokens, completionTokens: 0 } } });
        return;
      }
      for await (const event of pipeline.stream(request)) {
        if (this.handedBack) return this.sendHandback();
        if (event.kind === "text") {
          n++;
          const seq = ++this.seq;
          await this.credit(seq);
          if (this.handedBack) return this.sendHandback();
          this.send({ t: "text", attempt: call.attempt, seq, n, text: event.text, ...(event.tokenIds ? { ids: event.tokenIds } : {}), ...(event.logprobs ? { lp: event.logprobs } : {}), ...(event.samplerState !== undefined ? { ss: event.samplerState } : {}) });
        } else {
          const result = { ...event.result };
          if (resume && !exact) {
            const promptTokens = await pipeline.countTokens(call.modelId, call.prompt ?? "").catch(() => result.usage.promptTokens);
            const cached = result.usage.cachedTokens;
            result.usage = { promptTokens, completionTokens: resume.pieces + result.usage.completionTokens, ...(cached !== undefined ? { cachedTokens: Math.min(cached, promptTokens) } : {}) };
          }
          this.send({ t: "done", attempt: call.attempt, seq: ++this.seq, result });
        }
      }
    } catch (error) {
      if (this.handedBack) return this.sendHandback();
      if (!(error as { code?: string }).code) ctx.log.error({ err: error, request: call.id }, "generation failed");
      this.send({ t: "error", attempt: call.attempt, seq: ++this.seq, error: toWire(error) });
    }
  }

  /** Waits until piece `seq` fits the window; gives up (cancelling) when no acknowledgement comes for ackTimeoutMs. */
  private async credit(seq: number): Promise<void> {
    while (seq - this.acked > this.call.window && !this.abort.signal.aborted && !this.handedBack) {
      const progressed = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), this.ctx.ackTimeoutMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      this.wake = undefined;
      if (!progressed) {
        this.ctx.log.warn({ request: this.call.id }, "no acknowledgement from the gateway: cancelling the generation");
        this.abort.abort(new Error("gateway gone"));
      }
    }
  }
}

export const streamKey = (id: string, attempt: number) => `${id}#${attempt}`;

/**
 * The pipeline request for a call. `exact`: it resumes from the token ids delivered so far.
 * Without ids, a resumed call continues from the prompt plus the delivered text.
 */
function pipelineRequest(call: GenerateCall, signal: AbortSignal): { request: GenerateRequest; exact: boolean } {
  const request: GenerateRequest = {
    modelId: call.modelId,
    signal,
    temperature: call.temperature,
    topK: call.topK,
    topP: call.topP,
    seed: call.seed,
    stop: call.stop,
    ...adjustmentsOf(call),
  };
  if (call.grammar) request.grammar = call.grammar;
  if (call.tools) request.tools = call.tools;
  if (call.toolChoice !== undefined) request.toolChoice = call.toolChoice;
  if (call.parallelToolCalls !== undefined) request.parallelToolCalls = call.parallelToolCalls;
  const resume = call.resume;
  const exact = resume?.generatedIds !== undefined;
  // A grammar's state follows the tokens: a text-only resume would restart it mid-output.
  if (resume && !exact && call.grammar) throw errors.invalidRequest("A generation with a grammar can only be resumed from its token ids, which this worker's pipeline does not give.", "grammar");
  if (resume && !exact && call.tools) throw errors.invalidRequest("A generation with tools can only be resumed from its token ids, which this worker's pipeline does not give.", "tools");
  if (resume && exact) {
    // Continue from the token ids generated so far, after the original prompt or chat: the
    // pipeline feeds them as they were and emits only the text past what was delivered.
    if (call.prompt !== undefined) request.prompt = call.prompt;
    if (call.messages !== undefined) request.messages = call.messages as GenerateRequest["messages"];
    request.maxTokens = call.maxTokens;
    request.resume = { generatedIds: resume.generatedIds!, deliveredChars: resume.deliveredChars ?? resume.text.length };
    // The sampler goes on from where the last delivered piece left it (its seed alone would redraw).
    if (resume.samplerState !== undefined) request.resume.samplerState = resume.samplerState;
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
  return { request, exact };
}
