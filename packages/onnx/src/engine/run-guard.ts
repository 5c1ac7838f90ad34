/**
 * Keeps process exit from landing in the middle of an ONNX Runtime run.
 *
 * When the process exits (process.exit, a second Ctrl-C), Node terminates worker threads at once.
 * If the engine thread is inside `session.run()` at that moment, onnxruntime-node (1.30) throws a
 * C++ exception that nothing can catch and the process aborts (exit 134, "terminate called after
 * throwing an instance of 'Napi::Error'") instead of exiting with its own code. So the two
 * threads share two flags: the engine raises RUNNING around each run and checks STOP first; the
 * main thread, on 'exit', raises STOP and waits (synchronously, briefly) until no run is in
 * progress. No new run starts after STOP, so the thread is terminated between runs.
 */
import type { InferenceSession, Tensor } from "onnxruntime-node";

const STOP = 0;
const RUNNING = 1;

let flags: Int32Array | undefined;

/** The shared flags, created by the main thread and handed to the engine thread. */
export function createRunFlags(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
}

/** Engine thread: guard every later `guardedRun` with these flags. */
export function installRunGuard(shared: Int32Array): void {
  flags = shared;
}

/** `session.run`, never started after STOP and flagged while it runs. */
export async function guardedRun(session: InferenceSession, feeds: Record<string, Tensor>, fetches?: string[]): Promise<InferenceSession.ReturnType> {
  if (!flags) return fetches ? session.run(feeds, fetches) : session.run(feeds);
  Atomics.store(flags, RUNNING, 1);
  if (Atomics.load(flags, STOP) === 1) {
    release(flags);
    return new Promise(() => {}); // the process is exiting: this thread is about to end
  }
  try {
    // Without a fetch list the runtime returns every output: the usual, cheapest call.
    return await (fetches ? session.run(feeds, fetches) : session.run(feeds));
  } finally {
    release(flags);
  }
}

function release(shared: Int32Array): void {
  Atomics.store(shared, RUNNING, 0);
  Atomics.notify(shared, RUNNING);
}

/** Main thread, on process exit: no new runs; wait (at most `timeoutMs`) for the current one. */
export function stopRuns(shared: Int32Array, timeoutMs: number): void {
  Atomics.store(shared, STOP, 1);
  Atomics.wait(shared, RUNNING, 1, timeoutMs);
}
