/**
 * One try of a generation on the one worker that accepted it: puts its pieces in order by
 * sequence number (dropping repeats), acknowledges each once the consumer has taken it (the
 * worker's credit window), and ends with what the try came to.
 *
 * Core NATS does not redeliver what was in flight when a server died or a connection dropped:
 * pieces, acknowledgements and the final message can be lost. So the try resynchronises (sync():
 * its last acknowledgement again, and "resend from the first piece I lack") when a piece arrives
 * after a gap, when the worker goes quiet, and when the gateway reconnects; the worker keeps
 * what was not acknowledged and publishes it again. A worker that stays quiet and does not answer
 * a ping is lost; a gateway that cannot reach NATS for `recoveryMs` ends the try `unreachable`.
 */
import type { GenerationEvent, GenerationResult } from "@modelnode/core/pipeline";
import { fromWire, type ControlMessage, type StreamMessage } from "./protocol.js";
import type { GatewayLink } from "./gateway-link.js";
import type { Mailbox } from "./mailbox.js";

/** How a try ended (an error from the worker is the caller's to judge). */
export type AttemptEnd =
  | { t: "done"; result: GenerationResult }
  | { t: "error"; error: Error }
  /** The worker is draining and gave the generation back. */
  | { t: "handback" }
  /** The worker went quiet and did not answer a ping. */
  | { t: "lost" }
  /** NATS stayed unreachable from this gateway for `recoveryMs`. */
  | { t: "unreachable" };

/** A text piece as it arrives, for the caller to record before the consumer sees it. */
export type Piece = Extract<StreamMessage, { t: "text" }>;

/** What a try uses of its stream: the quiet time before a ping, how long to wait for NATS, the gap counter. */
export interface AttemptContext {
  idleMs: number;
  recoveryMs: number;
  counters: { gaps: number };
}

export class StreamAttempt {
  /** The sequence number of the next message to hand on. */
  private expected = 1;
  /** The last sequence number acknowledged to the worker. */
  private acked = 0;
  /** Messages that came before their turn, by sequence number. */
  private readonly early = new Map<number, StreamMessage>();
  /** When the last resend was asked for (a gap asks at most once per `idleMs / 4`). */
  private lastSync = 0;

  constructor(
    private readonly link: GatewayLink,
    private readonly timing: AttemptContext,
    private readonly mailbox: Mailbox<StreamMessage>,
    readonly requestId: string,
    readonly attempt: number,
    readonly worker: string,
  ) {}

  /** The try's text events, in order; returns how it ended. `record` sees each piece before it is yielded. */
  async *events(record: (piece: Piece) => void): AsyncGenerator<GenerationEvent, AttemptEnd> {
    for (;;) {
      const next = await this.nextInOrder();
      if (next === "lost" || next === "unreachable") return { t: next };
      if (next.t === "text") {
        record(next);
        const event: GenerationEvent = next.ids ? { kind: "text", text: next.text, tokenIds: next.ids } : { kind: "text", text: next.text };
        if (next.lp) event.logprobs = next.lp;
        if (typeof next.ss === "string") event.samplerState = next.ss;
        yield event;
        this.ack(next.seq); // the consumer took it: one more credit
        continue;
      }
      this.ack(next.seq); // the final message: the worker may forget the stream
      if (next.t === "done") return { t: "done", result: next.result };
      if (next.t === "error") return { t: "error", error: fromWire(next.error) };
      return { t: "handback" };
    }
  }

  /** The worker is suspected gone (a goodbye, missed heartbeats): stop waiting and check it now. */
  checkNow(): void {
    this.mailbox.interrupt();
  }

  /** Asks the worker to stop this try. */
  cancel(): void {
    this.control({ id: this.requestId, attempt: this.attempt, cancel: true });
  }

  /** Everything in flight may be lost (a gap, a quiet worker, a reconnect): acknowledge again, and ask for what is missing. */
  sync(): void {
    this.lastSync = Date.now();
    this.control({ id: this.requestId, attempt: this.attempt, ack: this.acked, resend: this.expected });
  }

  private ack(seq: number): void {
    this.acked = seq;
    this.control({ id: this.requestId, attempt: this.attempt, ack: seq });
  }

  private control(message: ControlMessage): void {
    this.link.publish(this.link.subjects.worker(this.worker, "ctl"), message);
  }

  /** The next message of this try in sequence; "lost" when the worker stays quiet and does not answer a ping. */
  private async nextInOrder(): Promise<StreamMessage | "lost" | "unreachable"> {
    const { link, timing } = this;
    for (;;) {
      const next = this.early.get(this.expected) ?? (await this.mailbox.next(timing.idleMs, (m) => m !== undefined && m.attempt === this.attempt));
      if (next === "timeout") {
        if (!link.reachable) {
          // Our own connection is down: nothing can be asked now; wait for the reconnect, then resync.
          if (!(await link.reconnected(timing.recoveryMs))) return "unreachable";
          this.sync();
          continue;
        }
        this.sync();
        if (await link.alive(this.worker, { id: this.requestId, attempt: this.attempt })) continue;
        if (!link.reachable) continue; // the ping failed because our connection went down, not the worker
        return "lost";
      }
      if (!next || next.attempt !== this.attempt) continue; // unreadable, or a late message of an abandoned try
      if (next.seq < this.expected) continue; // a repeat (a resend of something already handed on)
      if (next.seq > this.expected) {
        if (!this.early.has(next.seq) && this.early.size === 0) timing.counters.gaps++;
        this.early.set(next.seq, next);
        if (Date.now() - this.lastSync > timing.idleMs / 4) this.sync(); // a gap: something was lost
        continue;
      }
      this.early.delete(this.expected);
      this.expected++;
      return next;
    }
  }
}
