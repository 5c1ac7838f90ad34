/** Messages pushed by a subscription, awaited one at a time with an idle time-out. */
export class Mailbox<T> {
  private readonly queue: (T | undefined)[] = [];
  private waiter?: (m: T | undefined) => void;

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
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve("timeout");
      }, timeoutMs);
      this.waiter = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
    });
  }
}
