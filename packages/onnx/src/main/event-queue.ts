/**
 * An async iterator fed by pushes: the pipeline pushes a generation's events as the engine sends
 * them, the caller pulls them with `for await`. `onReturn` runs when the caller stops early.
 * `onBacklog(true)` runs when `high` items wait unread (the caller is slower than the engine),
 * `onBacklog(false)` once the caller has read them down to `high / 4`.
 */
export class EventQueue<T> implements AsyncIterator<T> {
  private readonly items: T[] = [];
  private waiter: { resolve: (result: IteratorResult<T>) => void; reject: (error: Error) => void } | undefined;
  private error: Error | undefined;
  private ended = false;
  private backlogged = false;

  constructor(
    private readonly onReturn: () => void,
    private readonly onBacklog: (backlogged: boolean) => void = () => {},
    private readonly high = Infinity,
  ) {}

  push(item: T): void {
    if (this.ended) return;
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve({ value: item, done: false });
    } else {
      this.items.push(item);
      if (!this.backlogged && this.items.length >= this.high) {
        this.backlogged = true;
        this.onBacklog(true);
      }
    }
  }

  /** No more items after those queued. */
  end(): void {
    this.ended = true;
    this.settleWaiter();
  }

  /** The iteration fails (after the items already queued). */
  fail(error: Error): void {
    if (this.ended) return;
    this.error = error;
    this.ended = true;
    this.settleWaiter();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) {
      const value = this.items.shift()!;
      if (this.backlogged && !this.ended && this.items.length <= this.high / 4) {
        this.backlogged = false;
        this.onBacklog(false);
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.error) {
      const error = this.error;
      this.error = undefined;
      return Promise.reject(error);
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.ended) {
      this.ended = true;
      this.onReturn();
    }
    this.items.length = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  private settleWaiter(): void {
    if (!this.waiter || this.items.length > 0) return;
    const { resolve, reject } = this.waiter;
    this.waiter = undefined;
    if (this.error) {
      const error = this.error;
      this.error = undefined;
      reject(error);
    } else resolve({ value: undefined, done: true });
  }
}
