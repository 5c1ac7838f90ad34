/** The generations a worker serves now: admission (its cap, draining), lookup, and the drain's steps. */
import { ServedStream, streamKey } from "./served-stream.js";

export class ServedStreams {
  private readonly streams = new Map<string, ServedStream>();
  /**
   * Streams that ended but whose last messages the gateway has not acknowledged yet: kept (not
   * counted against the cap) for `lingerMs`, so a final reply lost with a NATS server can be sent again.
   */
  private readonly ended = new Map<string, ServedStream>();
  /** Set when the worker drains: no new generations. */
  draining = false;

  constructor(
    readonly maxInFlight: number,
    private readonly lingerMs: number,
  ) {}

  get size(): number {
    return this.streams.size;
  }

  /** Generations running per gateway id: each gateway replaces its own share with its exact count. */
  byGateway(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const stream of this.streams.values()) counts[stream.gateway] = (counts[stream.gateway] ?? 0) + 1;
    return counts;
  }

  /** Why a new generation is refused now (the gateway then tries another worker), or undefined. */
  refusal(): "draining" | "full" | undefined {
    if (this.draining) return "draining";
    if (this.streams.size >= this.maxInFlight) return "full";
    return undefined;
  }

  /** Takes a stream in (it counts at once); `run` starts it once the gateway has been told. */
  add(stream: ServedStream): void {
    this.streams.set(stream.key, stream);
  }

  /** Starts a stream taken in; it leaves the set when it ends. */
  run(stream: ServedStream): void {
    stream.start(() => {
      this.streams.delete(stream.key);
      this.linger(stream);
    });
  }

  private linger(stream: ServedStream): void {
    if (stream.settled) return;
    const forget = () => {
      clearTimeout(timer);
      if (this.ended.get(stream.key) === stream) this.ended.delete(stream.key);
    };
    const timer = setTimeout(forget, this.lingerMs);
    timer.unref();
    this.ended.set(stream.key, stream);
    stream.onSettled = forget;
  }

  get(id: string, attempt: number): ServedStream | undefined {
    const key = streamKey(id, attempt);
    return this.streams.get(key) ?? this.ended.get(key);
  }

  /** After a reconnect: every stream, running or ended, publishes again what was not acknowledged. */
  resendAll(): void {
    for (const stream of [...this.streams.values(), ...this.ended.values()]) stream.resend();
  }

  /** Waits for every stream to end, for at most `ms`. */
  async settle(ms: number): Promise<void> {
    if (this.streams.size === 0) return;
    await Promise.race([this.allDone(), new Promise((r) => setTimeout(r, ms).unref())]);
  }

  /** Ends every stream: handed back to its gateway, or (`handBack` false) only cancelled. */
  endAll(handBack: boolean): void {
    for (const stream of this.streams.values()) {
      if (handBack) stream.handBack();
      stream.cancel("worker closing");
    }
  }

  allDone(): Promise<unknown> {
    return Promise.all([...this.streams.values()].map((s) => s.done));
  }
}
