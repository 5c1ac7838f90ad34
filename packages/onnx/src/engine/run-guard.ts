/**
 * `session.run` behind the run flags the main thread shares (see messages/run-flags.ts): never
 * started once process exit began, and flagged while it runs, so that exit waits for it.
 */
import type { InferenceSession, Tensor } from "onnxruntime-node";
import { runEnded, runStarting } from "../messages/run-flags.js";

let flags: Int32Array | undefined;

/** Guard every later `guardedRun` with these flags. */
export function installRunGuard(shared: Int32Array): void {
  flags = shared;
}

/** `session.run`, never started after STOP and flagged while it runs. */
export async function guardedRun(session: InferenceSession, feeds: Record<string, Tensor>, fetches?: string[]): Promise<InferenceSession.ReturnType> {
  if (!flags) return fetches ? session.run(feeds, fetches) : session.run(feeds);
  if (!runStarting(flags)) return new Promise(() => {}); // the process is exiting: this thread is about to end
  try {
    // Without a fetch list the runtime returns every output: the usual, cheapest call.
    return await (fetches ? session.run(feeds, fetches) : session.run(feeds));
  } finally {
    runEnded(flags);
  }
}
