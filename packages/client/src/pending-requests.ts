/**
 * PendingRequests: the requests the client holds, queued until a connection is ready, then in
 * flight on it until their final reply. Replies find their request here: a standard frame by
 * its correlation_id (the request's message_id), a legacy reply by session_id and step.
 */
import { fromErrorFrame, fromLegacyError, type ModelNodeError } from "./errors.js";

/** A request on its way: queued (socketNumber 0) or in flight on socket n. */
export interface PendingRequest {
  /** The message_id; for a legacy step, legacyKey(session_id, step). */
  readonly key: string;
  readonly legacy: boolean;
  /** The frame to send. */
  readonly frame: Record<string, unknown>;
  /** The number of the socket it went out on; 0 while it waits in the queue. */
  socketNumber: number;
  /** Every frame correlated with it (a streamed request gets several). */
  reply(frame: any): void;
  /** It will get no reply: the connection dropped, the client closed, or it could not be sent. */
  fail(error: unknown): void;
}

/** How a legacy step is found: its session and step number. */
export const legacyKey = (sessionId: unknown, step: unknown) => `${String(sessionId)}\u0000${String(step)}`;

export class PendingRequests {
  /** Waiting for a connection, oldest first. */
  #queue: PendingRequest[] = [];
  /** Sent standard requests, by message_id. */
  readonly #byMessageId = new Map<string, PendingRequest>();
  /** Sent legacy steps, by legacyKey. */
  readonly #byLegacyKey = new Map<string, PendingRequest>();

  get queued(): number {
    return this.#queue.length;
  }

  get inFlight(): number {
    return this.#byMessageId.size + this.#byLegacyKey.size;
  }

  enqueue(request: PendingRequest): void {
    this.#queue.push(request);
  }

  /** Empties the queue; returns what was in it, oldest first. */
  takeQueued(): PendingRequest[] {
    const queued = this.#queue;
    this.#queue = [];
    return queued;
  }

  /** It goes out on socket `socketNumber`: its replies are routed to it from now on. */
  sent(request: PendingRequest, socketNumber: number): void {
    request.socketNumber = socketNumber;
    (request.legacy ? this.#byLegacyKey : this.#byMessageId).set(request.key, request);
  }

  /** Drops it, queued or in flight: it is settled, or its caller gave up on it. */
  forget(request: PendingRequest): void {
    const map = request.legacy ? this.#byLegacyKey : this.#byMessageId;
    if (map.get(request.key) === request) map.delete(request.key);
    const queued = this.#queue.indexOf(request);
    if (queued >= 0) this.#queue.splice(queued, 1);
  }

  /** Whether that step of that session is queued or in flight. */
  hasLegacyStep(key: string): boolean {
    return this.#byLegacyKey.has(key) || this.#queue.some((request) => request.legacy && request.key === key);
  }

  /**
   * Hands a frame (a JSON object) to the request it answers. Returns the node's error when the
   * frame is one that answers no request (correlation_id null, or a legacy error of no step in
   * flight), for the client to report; anything else uncorrelated is dropped.
   */
  deliver(frame: any): ModelNodeError | undefined {
    const header = frame.header;
    if (header !== null && typeof header === "object" && !Array.isArray(header)) {
      const id = header.correlation_id;
      const request = typeof id === "string" ? this.#byMessageId.get(id) : undefined;
      if (request) request.reply(frame);
      else if (header.message_type === "error" && (id === null || id === undefined)) return fromErrorFrame(frame);
      return undefined;
    }
    if ("session_id" in frame) {
      const request = this.#byLegacyKey.get(legacyKey(frame.session_id, frame.step));
      if (request) request.reply(frame);
      else if (frame.error && typeof frame.error === "object") return fromLegacyError(frame);
    }
    return undefined;
  }

  /** The socket they went out on is gone: every request in flight fails with `error`. */
  failInFlight(error: unknown): void {
    const lost = [...this.#byMessageId.values(), ...this.#byLegacyKey.values()];
    this.#byMessageId.clear();
    this.#byLegacyKey.clear();
    for (const request of lost) request.fail(error);
  }
}
