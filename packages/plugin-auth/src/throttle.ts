/** Brute-force brakes: a per-connection delay that grows with failures, and per-address failure windows. */

/** Delay before answering the n-th failure (n ≥ 1) on a connection: base · 2^(n-1), capped. */
export function failureDelayMs(failures: number, baseMs: number, maxMs: number): number {
  if (baseMs <= 0 || failures <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
}

/** Resolves after `ms`, or at once when `signal` aborts (the connection went away). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Failed license-key attempts per remote address in a fixed window. An address that reaches
 * `limit` failures is refused until its window ends, whatever connection it uses. At most
 * `maxTracked` addresses are remembered (the least recently failing is forgotten first).
 */
export class AddressFailures {
  private readonly windows = new Map<string, { start: number; failures: number }>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    readonly maxTracked: number,
  ) {}

  /** Milliseconds until `address` may try again; 0 when it may try now. */
  retryAfter(address: string, now = Date.now()): number {
    if (this.limit <= 0) return 0;
    const entry = this.windows.get(address);
    if (!entry) return 0;
    const end = entry.start + this.windowMs;
    if (now >= end) {
      this.windows.delete(address);
      return 0;
    }
    return entry.failures >= this.limit ? end - now : 0;
  }

  recordFailure(address: string, now = Date.now()): void {
    if (this.limit <= 0 || this.maxTracked <= 0) return;
    const entry = this.windows.get(address);
    const current = entry && now < entry.start + this.windowMs ? entry : { start: now, failures: 0 };
    current.failures++;
    this.windows.delete(address);
    this.windows.set(address, current);
    while (this.windows.size > this.maxTracked) {
      this.windows.delete(this.windows.keys().next().value as string);
    }
  }

  get size(): number {
    return this.windows.size;
  }
}
