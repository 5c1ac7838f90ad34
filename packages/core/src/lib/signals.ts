/**
 * closeOnSignals(node): what every server's main() needs. The first SIGTERM/SIGINT closes the
 * node gracefully (drain, then close hooks) and exits 0 (1 when closing failed); a second
 * signal while it drains exits at once with 130, as a shell user pressing Ctrl-C twice expects.
 *
 * One event often arrives as several signals within milliseconds: a terminal's Ctrl-C reaches
 * every process of the foreground group, a service manager signals every process of the
 * service, and a wrapper (scripts/dev.mjs, npm) passes on what it got. Signals within
 * `coalesceMs` of the first are that same event, not a second one.
 */
export interface Closable {
  close(): Promise<void>;
  readonly logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface CloseOnSignalsOptions {
  signals?: NodeJS.Signals[];
  /** Called on each signal before acting (e.g. to tell a person at a terminal what happens next). */
  onSignal?: (signal: NodeJS.Signals, again: boolean) => void;
  /** Called when close() rejects, before exiting 1. */
  onCloseError?: (error: unknown) => void;
  /** Default: process.exit. */
  exit?: (code: number) => void;
  /**
   * Signals this soon after the first are the same event (see above). Default 100 ms: copies
   * arrive within milliseconds, a person's second Ctrl-C comes later.
   */
  coalesceMs?: number;
}

/** Installs the handlers; returns a function that removes them. */
export function closeOnSignals(node: Closable, options: CloseOnSignalsOptions = {}): () => void {
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const coalesceMs = options.coalesceMs ?? 100;
  let closing = false;
  let firstAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing && performance.now() - firstAt < coalesceMs) return;
    options.onSignal?.(signal, closing);
    if (closing) {
      node.logger?.warn({ signal }, "second signal while closing; exiting now");
      exit(130);
      return;
    }
    closing = true;
    firstAt = performance.now();
    node.logger?.info({ signal }, "signal received; closing");
    node.close().then(
      () => exit(0),
      (error) => {
        options.onCloseError?.(error);
        exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
