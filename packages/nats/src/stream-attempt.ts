/**
 * One try of a generation on the one worker that accepted it: puts its pieces in order by
 * sequence number, acknowledges each once the consumer has taken it (the worker's credit
 * window), pings the worker when it goes quiet, and ends with what the try came to.
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
  | { t: "lost" };

/** A text piece as it arrives, for the caller to record before the consumer sees it. */
export type Piece = Extract<StreamMessage, { t: "text" }>;

export class StreamAttempt {
  /** The sequence number of the next message to hand on. */
  private expected = 1;
  /** Messages that came before their turn, by sequence number. */
  private readonly early = new Map<number, StreamMessage>();

  constructor(
    private readonly link: GatewayLink,
    private readonly idleMs: number,
    private readonly mailbox: Mailbox<StreamMessage>,
    readonly requestId: string,
    readonly attempt: number,
    readonly worker: string,
  ) {}

  /** The try's text events, in order; returns how it ended. `record` sees each piece before it is yielded. */
  async *events(record: (piece: Piece) => void): AsyncGenerator<GenerationEvent, AttemptEnd> {
    for (;;) {
      const next = await this.nextInOrder();
      if (next === "lost") return { t: "lost" };
      if (next.t === "text") {
        record(next);
        const event: GenerationEvent = next.ids ? { kind: "text", text: next.text, tokenIds: next.ids } : { kind: "text", text: next.text };
        if (next.lp) event.logprobs = next.lp;
        yield event;
        this.control({ id: this.requestId, attempt: this.attempt, ack: next.seq }); // the consumer took it: one more credit
      } else if (next.t === "done") return { t: "done", result: next.result };
      else if (next.t === "error") return { t: "error", error: fromWire(next.error) };
      else return { t: "handback" };
    }
  }

  /** Asks the worker to stop this try. */
  cancel(): void {
    this.control({ id: this.requestId, attempt: this.attempt, cancel: true });
  }

  private control(message: ControlMessage): void {
    this.link.publish(this.link.subjects.worker(this.worker, "ctl"), message);
  }

  /** The next message of this try in sequence; "lost" when the worker stays quiet and does not answer a ping. */
  private async nextInOrder(): Promise<StreamMessage | "lost"> {
    for (;;) {
      const next = this.early.get(this.expected) ?? (await this.mailbox.next(this.idleMs, (m) => m !== undefined && m.attempt === this.attempt));
      if (next === "timeout") {
        if (await this.link.alive(this.worker)) continue;
        return "lost";
      }
      if (!next || next.attempt !== this.attempt) continue; // unreadable, or a late message of an abandoned try
      if (next.seq !== this.expected) {
        this.early.set(next.seq, next);
        continue;
      }
      this.early.delete(this.expected);
      this.expected++;
      return next;
    }
  }
}
