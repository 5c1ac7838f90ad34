/**
 * Keeps process exit from landing in the middle of an ONNX Runtime run: two flags in shared
 * memory, and what each thread does with them.
 *
 * When the process exits (process.exit, a second Ctrl-C), Node terminates worker threads at once.
 * If the engine thread is inside `session.run()` at that moment, onnxruntime-node (1.30) throws a
 * C++ exception that nothing can catch and the process aborts (exit 134, "terminate called after
 * throwing an instance of 'Napi::Error'") instead of exiting with its own code. So the two
 * threads share two flags: the engine raises RUNNING around each run and checks STOP first
 * (`runStarting` / `runEnded`, used by engine/run-guard.ts); the main thread, on 'exit', raises
 * STOP and waits (synchronously, briefly) until no run is in progress (`stopRuns`). No new run
 * starts after STOP, so the thread is terminated between runs.
 */

const STOP = 0;
const RUNNING = 1;

/** The shared flags, created by the main thread and handed to the engine thread. */
export function createRunFlags(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
}

/** Engine thread, before a run: raises RUNNING; false (and lowered again) when STOP is raised: no run may start. */
export function runStarting(flags: Int32Array): boolean {
  Atomics.store(flags, RUNNING, 1);
  if (Atomics.load(flags, STOP) !== 1) return true;
  runEnded(flags);
  return false;
}

/** Engine thread, after a run: lowers RUNNING and wakes a main thread waiting in `stopRuns`. */
export function runEnded(flags: Int32Array): void {
  Atomics.store(flags, RUNNING, 0);
  Atomics.notify(flags, RUNNING);
}

/** Main thread, on process exit: no new runs; wait (at most `timeoutMs`) for the current one. */
export function stopRuns(flags: Int32Array, timeoutMs: number): void {
  Atomics.store(flags, STOP, 1);
  Atomics.wait(flags, RUNNING, 1, timeoutMs);
}
