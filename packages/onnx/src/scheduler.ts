/**
 * Sharing the CPU between requests.
 *
 * onnxruntime-node's `session.run` returns a promise but does its work synchronously on the JS
 * thread (inside a setImmediate), so runs never overlap. `RunQueue` makes the order explicit: one
 * run at a time, first come first served. A generation re-queues after every decode step, so
 * concurrent generations advance round-robin, one step each, and between any two runs the event
 * loop gets a turn (heartbeats, new messages).
 *
 * `AdmissionGate` bounds how many generations run at once (each holds a KV cache) and how many
 * may wait; past that, callers get `PipelineError("BUSY")` at once rather than unbounded latency.
 */
import { PipelineError } from "@modelnode/core";

export class AbortedError extends Error {
  constructor() {
    super("aborted");
    this.name = "AbortedError";
  }
}

interface Waiter {
  grant: () => void;
  fail: (error: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** A FIFO semaphore with `capacity` holders; waiting callers may give up through an AbortSignal. */
class FifoSemaphore {
  private holders = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly capacity: number) {}

  /** Whether an `acquire` now would have to wait. */
  get full(): boolean {
    return this.holders >= this.capacity || this.waiters.length > 0;
  }

  get waiting(): number {
    return this.waiters.length;
  }
  get active(): number {
    return this.holders;
  }

  /** Takes a slot now if one is free and nobody waits; no promise, no microtask. */
  tryAcquire(): boolean {
    if (this.full) return false;
    this.holders++;
    return true;
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new AbortedError());
    if (this.holders < this.capacity && this.waiters.length === 0) {
      this.holders++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { grant: resolve, fail: reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          waiter.fail(new AbortedError());
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (!next) {
      this.holders--;
      return;
    }
    // The slot passes straight to the next waiter (holders unchanged), keeping FIFO order.
    if (next.onAbort) next.signal!.removeEventListener("abort", next.onAbort);
    next.grant();
  }

  /** Fails every waiter (used on close). */
  rejectAll(error: Error): void {
    for (const waiter of this.waiters.splice(0)) {
      if (waiter.onAbort) waiter.signal!.removeEventListener("abort", waiter.onAbort);
      waiter.fail(error);
    }
  }
}

export class RunQueue {
  private readonly semaphore = new FifoSemaphore(1);
  private current: Promise<unknown> | undefined;
  private closedWith: Error | undefined;

  get waiting(): number {
    return this.semaphore.waiting;
  }

  /** Runs `fn` when it is this caller's turn; an abort while waiting rejects with AbortedError. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.closedWith) throw this.closedWith;
    if (signal?.aborted) throw new AbortedError();
    if (!this.semaphore.tryAcquire()) await this.semaphore.acquire(signal);
    try {
      if (this.closedWith) throw this.closedWith;
      const running = fn();
      this.current = running;
      return await running;
    } finally {
      this.current = undefined;
      this.semaphore.release();
    }
  }

  /** Refuses further runs (waiting ones fail with `error`) and resolves once the current run is over. */
  async close(error: Error): Promise<void> {
    this.closedWith = error;
    this.semaphore.rejectAll(error);
    await this.current?.catch(() => {});
  }
}

export class AdmissionGate {
  private readonly semaphore: FifoSemaphore;

  constructor(
    capacity: number,
    private readonly maxWaiting: number,
  ) {
    this.semaphore = new FifoSemaphore(capacity);
  }

  get running(): number {
    return this.semaphore.active;
  }
  get waiting(): number {
    return this.semaphore.waiting;
  }

  /** Resolves with a release function once admitted; BUSY when the queue is full. */
  async enter(signal?: AbortSignal): Promise<() => void> {
    if (this.semaphore.full && this.semaphore.waiting >= this.maxWaiting) {
      throw new PipelineError("BUSY", "The model is busy: too many generations are running or waiting; retry later.", {
        running: this.semaphore.active,
        waiting: this.semaphore.waiting,
      });
    }
    await this.semaphore.acquire(signal);
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.semaphore.release();
      }
    };
  }

  /** Fails every waiting caller, e.g. with SHUTTING_DOWN on close. */
  rejectWaiting(error: Error): void {
    this.semaphore.rejectAll(error);
  }
}
