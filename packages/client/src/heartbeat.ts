/**
 * HeartbeatProbe: while a socket serves, a heartbeat goes out `intervalMs` after the last one
 * was answered; any answer (an ack, or even an error frame) proves the connection alive, none
 * within `timeoutMs` means it is dead.
 */
import { ConnectionLostError, TimeoutError } from "./errors.js";

type Timer = ReturnType<typeof setTimeout>;

/** What the probe needs of the connection. */
export interface ProbeTarget {
  /** Whether socket `socketNumber` is still the one serving. */
  serves(socketNumber: number): boolean;
  /** Sends a heartbeat straight onto the socket; it settles when answered, or rejects (TimeoutError after timeoutMs). */
  heartbeat(timeoutMs: number): Promise<unknown>;
  /** The node did not answer: drop the connection with `error`. */
  dead(error: ConnectionLostError): void;
}

export class HeartbeatProbe {
  /** 0 (or less): no probe. */
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #target: ProbeTarget;
  /** The wait before the next probe. */
  #timer: Timer | undefined;

  constructor(intervalMs: number, timeoutMs: number, target: ProbeTarget) {
    this.#intervalMs = intervalMs;
    this.#timeoutMs = timeoutMs;
    this.#target = target;
  }

  /** The next probe of socket `socketNumber` goes out after the interval. */
  schedule(socketNumber: number): void {
    const interval = this.#intervalMs;
    if (!(interval > 0)) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#probe(socketNumber), interval);
  }

  /** No probe is waiting any more (one already out settles on its own: its socket is gone). */
  stop(): void {
    clearTimeout(this.#timer);
  }

  #probe(socketNumber: number): void {
    const target = this.#target;
    if (!target.serves(socketNumber)) return;
    const timeoutMs = this.#timeoutMs;
    const alive = () => {
      if (target.serves(socketNumber)) this.schedule(socketNumber);
    };
    target.heartbeat(timeoutMs).then(alive, (error) => {
      if (error instanceof TimeoutError) {
        if (target.serves(socketNumber)) {
          target.dead(new ConnectionLostError(`The node did not answer a heartbeat within ${timeoutMs} ms.`, { reason: "heartbeat_timeout" }));
        }
      } else if (!(error instanceof ConnectionLostError)) {
        alive();
      }
    });
  }
}
