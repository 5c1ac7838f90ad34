import { errors, type HandlerContext, type NodeInfo } from "@modelnode/core";

/**
 * A generation that ended "cancelled" never reaches a client as a result. Its signal fired (the
 * client left: nobody reads this) or the node is shutting down (it stopped waiting for in-flight
 * work, or the pipeline closed): SHUTTING_DOWN (503) tells a client still there to retry elsewhere.
 */
export function cancelledError(ctx: HandlerContext, info: NodeInfo) {
  return ctx.signal.aborted && info.status() !== "draining"
    ? errors.cancelled("The request was cancelled before its generation finished.")
    : errors.shuttingDown("The generation was cancelled: the node is shutting down.");
}
