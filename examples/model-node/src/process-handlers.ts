/**
 * What the CLI does with errors that escape everything else. Core already answers every
 * request's failure itself (INTERNAL_ERROR, logged), so anything reaching the process is a bug
 * in background work (a timer, a close hook, a plugin's own promise):
 *
 * - `unhandledRejection`: logged once (error level) and the node keeps serving. A rejected
 *   promise leaves no half-run code behind, and exiting would drop every client's work.
 * - `uncaughtException`: logged once (fatal), then the node closes gracefully (the same drain as
 *   SIGTERM) and the process exits 1, because the code that threw stopped half-way and the
 *   process state can no longer be trusted. Another exception meanwhile exits 1 at once.
 */
import type { Logger } from "@modelnode/core";

export interface ProcessHandlerTarget {
  logger: Logger;
  close(): Promise<void>;
}

/** Installs the two handlers; returns a function that removes them. */
export function installProcessHandlers(node: ProcessHandlerTarget, exit: (code: number) => void = (code) => process.exit(code)): () => void {
  let fatal = false;
  const onRejection = (reason: unknown) => {
    node.logger.error({ err: reason }, "unhandled promise rejection (still serving)");
  };
  const onException = (error: Error) => {
    if (fatal) {
      node.logger.fatal({ err: error }, "uncaught exception while closing; exiting now");
      exit(1);
      return;
    }
    fatal = true;
    node.logger.fatal({ err: error }, "uncaught exception; closing the node and exiting");
    node.close().then(
      () => exit(1),
      () => exit(1),
    );
  };
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  return () => {
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
  };
}
