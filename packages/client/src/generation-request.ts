/**
 * GenerationRequest: the inference_request behind a Generation. It streams the node's
 * inference_chunk frames into the generation's sink, ends it with the inference_response, and
 * turns a cancel (or the signal's abort) into inference_cancel — or, while it is still queued,
 * into a generation that ends "cancelled" without reaching the node.
 *
 * A streamed generation is resumable (unless turned off): it asks for resume data in each chunk
 * (StreamResume), and when its connection drops and the client reconnects, it goes out again
 * on the new connection with `resume`, under the same message_id, and the caller's pieces go on
 * where they stopped.
 */
import { ConnectionLostError, fromErrorFrame, ModelNodeError, TimeoutError } from "./errors.js";
import type { GenerationControl, GenerationSink } from "./generation.js";
import type { PendingRequest, PendingRequests } from "./pending-requests.js";
import { frameHeader } from "./requests.js";
import { StreamResume } from "./stream-resume.js";
import type { GenerateOptions, GenerationResult } from "./types.js";

const SAMPLING_FIELDS = [
  "max_tokens",
  "temperature",
  "top_p",
  "top_k",
  "min_p",
  "presence_penalty",
  "frequency_penalty",
  "repetition_penalty",
  "logit_bias",
  "seed",
  "stop",
  "logprobs",
  "top_logprobs",
  "response_format",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "speculative",
] as const;

type Timer = ReturnType<typeof setTimeout>;

/** What a generation needs of the connection. */
export interface GenerationChannel {
  /** Sends it when the connection is ready, queues it otherwise. */
  submit(request: PendingRequest): void;
  /** Sends inference_cancel for it if the socket it went out on is still the one serving (a new one never saw it). */
  cancelOnNode(request: PendingRequest): void;
  /** Whether a lost socket is followed by another (the client is not closed and reconnects). */
  readonly reconnects: boolean;
}

/** The client's defaults a generation uses. */
export interface GenerationDefaults {
  model: string | undefined;
  licenseHash: string | undefined;
  /** The client's `resumable` option. */
  resumable: boolean;
}

export class GenerationRequest implements PendingRequest, GenerationControl {
  readonly key: string;
  readonly legacy = false;
  frame: Record<string, unknown>;
  socketNumber = 0;
  readonly #model: string | undefined;
  readonly #stream: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #timeoutMs: number | undefined;
  readonly #sink: GenerationSink;
  readonly #table: PendingRequests;
  readonly #channel: GenerationChannel;
  readonly #payload: Record<string, unknown>;
  readonly #licenseHash: string | undefined;
  /** What a resumable generation has received (undefined: not resumable). */
  readonly #resume: StreamResume | undefined;
  /** Its final reply came, or it failed, timed out or ended cancelled. */
  #ended = false;
  /** The caller asked to stop: a drop before the node confirmed it still ends it as cancelled. */
  #cancelRequested = false;
  #timer: Timer | undefined;
  readonly #onAbort = () => this.cancel();

  constructor(id: string, options: GenerateOptions, defaults: GenerationDefaults, sink: GenerationSink, table: PendingRequests, channel: GenerationChannel) {
    this.key = id;
    this.#model = options.model ?? defaults.model;
    this.#stream = options.stream ?? true;
    this.#signal = options.signal;
    this.#timeoutMs = options.timeoutMs;
    this.#sink = sink;
    this.#table = table;
    this.#channel = channel;
    const payload: Record<string, unknown> = {};
    if (this.#model !== undefined) payload.model_id = this.#model;
    if (options.prompt !== undefined) payload.prompt = options.prompt;
    if (options.messages !== undefined) payload.messages = options.messages;
    for (const field of SAMPLING_FIELDS) if (options[field] !== undefined) payload[field] = options[field];
    payload.stream = this.#stream;
    // With tools the node parses calls out of the text, which a resumed reply holds only in part.
    const tools = (options.tools?.length ?? 0) > 0 && options.tool_choice !== "none";
    if (this.#stream && !tools && (options.resumable ?? defaults.resumable)) {
      payload.resumable = true;
      this.#resume = new StreamResume();
    }
    this.#payload = payload;
    this.#licenseHash = defaults.licenseHash;
    this.frame = { ...payload, header: frameHeader("inference_request", id, defaults.licenseHash) };
  }

  /** Sends (or queues) it, with its timeout and abort listener; a signal already aborted ends it cancelled at once. */
  start(): GenerationControl {
    const signal = this.#signal;
    if (signal?.aborted) {
      this.#ended = true;
      this.#sink.done(this.#cancelledResult());
      return this;
    }
    signal?.addEventListener("abort", this.#onAbort, { once: true });
    const timeoutMs = this.#timeoutMs;
    if (timeoutMs !== undefined && timeoutMs > 0) {
      this.#timer = setTimeout(() => {
        this.#channel.cancelOnNode(this);
        this.#finish();
        this.#sink.fail(new TimeoutError("The generation", timeoutMs));
      }, timeoutMs);
    }
    this.#channel.submit(this);
    return this;
  }

  cancel(): void {
    if (this.#ended || this.#cancelRequested) return;
    this.#cancelRequested = true;
    if (this.socketNumber === 0) {
      // Still in the queue: it never reaches the node.
      this.#finish();
      this.#sink.done(this.#cancelledResult());
      return;
    }
    // The node answers with its inference_response, finish_reason "cancelled".
    this.#channel.cancelOnNode(this);
  }

  reply(frame: any): void {
    const type = frame.header.message_type;
    if (type === "inference_chunk") {
      if (this.#resume && !this.#resume.take(frame)) {
        this.#channel.cancelOnNode(this);
        this.#finish();
        // The generation was lost with the connection after all: the caller's remedy is the same.
        this.#sink.fail(new ConnectionLostError("The connection dropped, and the node the generation was resumed on cannot resume it (its chunks carry no token_ids).", { reason: "dropped" }));
        return;
      }
      if (typeof frame.text === "string" && frame.text !== "") this.#sink.piece(frame.text);
      return;
    }
    // Streamed tool calls also come whole in the inference_response (`tool_calls`).
    this.#finish();
    if (type === "inference_response") {
      if (!this.#stream && typeof frame.text === "string" && frame.text !== "") this.#sink.piece(frame.text);
      const resumed = this.#resume !== undefined && this.#resume.resumes > 0;
      // A resumed reply's final frame holds what that node sent; the caller has had it all.
      const result: GenerationResult = { text: resumed ? this.#sink.text : frame.text, finishReason: frame.finish_reason, usage: frame.usage, model: frame.model_id };
      if (Array.isArray(frame.logprobs)) result.logprobs = resumed ? this.#resume!.logprobs : frame.logprobs;
      if (Array.isArray(frame.tool_calls)) result.toolCalls = frame.tool_calls;
      this.#sink.done(result);
    } else if (type === "error") {
      this.#sink.fail(fromErrorFrame(frame));
    } else {
      this.#sink.fail(new ModelNodeError("INTERNAL_ERROR", `Unexpected reply "${String(type)}" to an inference_request.`));
    }
  }

  fail(error: unknown): void {
    if (!this.#cancelRequested && this.#resumable(error)) {
      this.#resend();
      return;
    }
    this.#finish();
    if (this.#cancelRequested && error instanceof ConnectionLostError) this.#sink.done(this.#cancelledResult());
    else this.#sink.fail(error);
  }

  /** A drop the client recovers from, of a generation whose chunks allow it to go on. */
  #resumable(error: unknown): boolean {
    if (!this.#resume?.possible || this.#ended || !(error instanceof ConnectionLostError)) return false;
    const reason = error.details.reason;
    return (reason === "dropped" || reason === "heartbeat_timeout") && this.#channel.reconnects;
  }

  /** Out again (queued for the next connection) with `resume`: the node sends only what follows. */
  #resend(): void {
    const resume = this.#resume!;
    resume.resumes++;
    this.socketNumber = 0;
    this.frame = { ...this.#payload, resume: resume.data(), header: frameHeader("inference_request", this.key, this.#licenseHash) };
    this.#channel.submit(this);
  }

  #cancelledResult(): GenerationResult {
    return {
      text: this.#sink.text,
      finishReason: "cancelled",
      usage: { prompt_tokens: 0, completion_tokens: 0 },
      model: this.#model ?? "",
    };
  }

  /** Ended: stops the timeout and the abort listener, and drops it from the table. */
  #finish(): void {
    this.#ended = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#table.forget(this);
  }
}
