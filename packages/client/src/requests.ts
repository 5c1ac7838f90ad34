/**
 * The requests a caller awaits one answer to (every call but generate()): a standard request,
 * answered by its reply frame, and a legacy step, answered by its output_tensors. Each rejects
 * on its timeout, when its signal aborts, or when it cannot get an answer. How a request goes
 * out (queued, or straight onto the socket) is the `send` its maker passes.
 */
import { fromErrorFrame, fromLegacyError, ModelNodeError, TimeoutError } from "./errors.js";
import { randomId } from "./ids.js";
import { legacyKey, type PendingRequest, type PendingRequests } from "./pending-requests.js";
import type { FrameHeader, LegacyOutput, LegacyStepReply, Reply } from "./types.js";

/** The protocol version the client speaks. */
export const PROTOCOL_VERSION = "2.0";

type Timer = ReturnType<typeof setTimeout>;

/** A standard frame's header; `licenseHash` is the client's licenseHash option. */
export function frameHeader(type: string, id: string, licenseHash: string | undefined): FrameHeader {
  const header: FrameHeader = {
    message_id: id,
    message_type: type,
    protocol_version: PROTOCOL_VERSION,
    timestamp: new Date().toISOString(),
  };
  if (licenseHash !== undefined) header.license_hash = licenseHash;
  return header;
}

function abortReason(signal: AbortSignal): unknown {
  if (signal.reason !== undefined) return signal.reason;
  const error = new Error("The operation was aborted.");
  error.name = "AbortError";
  return error;
}

/** When an awaited request gives up. */
export interface Deadline {
  /** What a TimeoutError names ("list_models", "The heartbeat", …). */
  operation: string;
  /** 0: never. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** The request, its timeout and its abort listener: armed when it is made, disarmed when it settles. */
abstract class AwaitedRequest<R> implements PendingRequest {
  readonly key: string;
  abstract readonly legacy: boolean;
  readonly frame: Record<string, unknown>;
  socketNumber = 0;
  protected readonly resolve: (value: R) => void;
  protected readonly reject: (error: unknown) => void;
  readonly #deadline: Deadline;
  readonly #table: PendingRequests;
  #timer: Timer | undefined;
  readonly #onAbort = () => {
    this.#disarm();
    this.reject(abortReason(this.#deadline.signal!));
  };

  constructor(key: string, frame: Record<string, unknown>, deadline: Deadline, table: PendingRequests, resolve: (value: R) => void, reject: (error: unknown) => void) {
    this.key = key;
    this.frame = frame;
    this.#deadline = deadline;
    this.#table = table;
    this.resolve = resolve;
    this.reject = reject;
  }

  /** Starts the timeout and listens to the signal; false (and rejected) when the signal has already aborted. */
  arm(): boolean {
    const { signal, timeoutMs, operation } = this.#deadline;
    if (signal?.aborted) {
      this.reject(abortReason(signal));
      return false;
    }
    signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (timeoutMs > 0) {
      this.#timer = setTimeout(() => {
        this.#disarm();
        this.reject(new TimeoutError(operation, timeoutMs));
      }, timeoutMs);
    }
    return true;
  }

  reply(frame: any): void {
    this.#disarm();
    this.answered(frame);
  }

  fail(error: unknown): void {
    this.#disarm();
    this.reject(error);
  }

  /** Settles with the answer in `frame`. */
  protected abstract answered(frame: any): void;

  /** Stops the timeout and the abort listener, and drops the request from the table. */
  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#deadline.signal?.removeEventListener("abort", this.#onAbort);
    this.#table.forget(this);
  }
}

class CallRequest<T> extends AwaitedRequest<Reply<T>> {
  readonly legacy = false;

  protected answered(frame: Reply<T>): void {
    if (frame.header.message_type === "error") this.reject(fromErrorFrame(frame));
    else this.resolve(frame);
  }
}

class LegacyStepRequest extends AwaitedRequest<LegacyOutput> {
  readonly legacy = true;

  protected answered(frame: LegacyStepReply & { error?: { code: string; message: string; details?: unknown } }): void {
    if (frame.error) this.reject(fromLegacyError(frame as { error: NonNullable<typeof frame.error> }));
    else this.resolve(frame.output_tensors);
  }
}

/** What a standard request sends. */
export interface CallMessage {
  type: string;
  payload: Record<string, unknown>;
  /** The client's licenseHash option, for the header. */
  licenseHash: string | undefined;
}

/** A standard request with one final reply: an `error` frame rejects with ModelNodeError. */
export function startCall<T>(message: CallMessage, deadline: Deadline, table: PendingRequests, send: (request: PendingRequest) => void): Promise<Reply<T>> {
  return new Promise<Reply<T>>((resolve, reject) => {
    const id = randomId();
    const frame = { ...message.payload, header: frameHeader(message.type, id, message.licenseHash) };
    const request = new CallRequest<T>(id, frame, deadline, table, resolve, reject);
    if (request.arm()) send(request);
  });
}

/** One legacy step; a second one of the same session and step while the first is on its way is refused (SESSION_BUSY). */
export function startLegacyStep(message: Record<string, unknown>, deadline: Deadline, table: PendingRequests, send: (request: PendingRequest) => void): Promise<LegacyOutput> {
  return new Promise<LegacyOutput>((resolve, reject) => {
    const key = legacyKey(message.session_id, message.step);
    if (table.hasLegacyStep(key)) {
      reject(
        new ModelNodeError("SESSION_BUSY", `Step ${String(message.step)} of session ${String(message.session_id)} is already on its way.`, {
          session_id: message.session_id,
          running_step: message.step,
        }),
      );
      return;
    }
    const request = new LegacyStepRequest(key, message, deadline, table, resolve, reject);
    if (request.arm()) send(request);
  });
}
