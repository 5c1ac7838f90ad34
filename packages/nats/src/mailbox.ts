/** Messages pushed by a subscription, awaited one at a time with an idle time-out. */
export class Mailbox<T> {
  private readonly queue: (T | undefined)[] = [];
  private waiter?: (m: T | undefined) => void;
  /** Ends the current wait early, as if it had timed out (set by next()). */
  private cutShort?: () => void;

  push(m: T | undefined): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w(m);
    } else this.queue.push(m);
  }

  /** The next queued message that `keep` accepts (others are dropped), else the next pushed one, or "timeout". */
  async next(timeoutMs: number, keep: (m: T | undefined) => boolean): Promise<T | undefined | "timeout"> {
    while (this.queue.length > 0) {
      const m = this.queue.shift();
      if (keep(m)) return m;
    }
    return new Promise((resolve) => {
      const timeout = () => {
        clearTimeout(timer);
        this.waiter = this.cutShort = undefined;
        resolve("timeout");
      };
      const timer = setTimeout(timeout, timeoutMs);
      this.cutShort = timeout;
      this.waiter = (m) => {
        clearTimeout(timer);
        this.cutShort = undefined;
        resolve(m);
      };
    });
  }

  /** The wait in progress ends now with "timeout" (e.g. its sender is known to be gone); nothing when none waits. */
  interrupt(): void {
    this.cutShort?.();
  }
}
