/**
 * The inference_requests in flight on one connection, by their header's message_id, each with an
 * AbortController: what `inference_cancel` looks up. The map lives in the connection's `ctx.state`
 * under this plugin's own Symbol, so a connection can only ever reach its own requests, and it
 * goes away with the connection.
 */
import { errors, type HandlerContext } from "@modelnode/core";

const IN_FLIGHT = Symbol("modelnode.inference.in-flight");

type InFlight = Map<string, AbortController>;

export interface TrackedRequest {
  /** Aborts on inference_cancel, or when the connection's own signal does (closed connection, draining node). */
  readonly signal: AbortSignal;
  /** Takes the request off the connection's list (idempotent): a later cancel is REQUEST_NOT_FOUND. */
  release(): void;
}

function inFlightOf(state: HandlerContext["state"]): InFlight {
  let inFlight = state.get(IN_FLIGHT) as InFlight | undefined;
  if (!inFlight) {
    inFlight = new Map();
    state.set(IN_FLIGHT, inFlight);
  }
  return inFlight;
}

/**
 * Puts the request of `ctx` on its connection's list. A second request with the message_id of
 * one still in flight on this connection is INVALID_REQUEST, so that a cancel always names one
 * request. A request without a header (not a standard-protocol message) is not tracked and can
 * only end with its connection.
 */
export function trackRequest(ctx: HandlerContext): TrackedRequest {
  const messageId = ctx.header?.message_id;
  if (messageId === undefined) return { signal: ctx.signal, release: () => {} };
  const inFlight = inFlightOf(ctx.state);
  if (inFlight.has(messageId)) {
    throw errors.invalidRequest(
      `An inference_request with message_id "${clip(messageId)}" is already in flight on this connection; give each request its own message_id.`,
      "header.message_id",
    );
  }
  const controller = new AbortController();
  const connection = ctx.signal;
  const onConnectionAbort = () => controller.abort(connection.reason);
  if (connection.aborted) onConnectionAbort();
  else connection.addEventListener("abort", onConnectionAbort, { once: true });
  inFlight.set(messageId, controller);
  let released = false;
  return {
    signal: controller.signal,
    release() {
      if (released) return;
      released = true;
      connection.removeEventListener("abort", onConnectionAbort);
      if (inFlight.get(messageId) === controller) inFlight.delete(messageId);
    },
  };
}

/** Aborts the connection's request `messageId`; false when none by that id is in flight on it. */
export function cancelRequest(state: HandlerContext["state"], messageId: string): boolean {
  const controller = (state.get(IN_FLIGHT) as InFlight | undefined)?.get(messageId);
  if (!controller) return false;
  controller.abort(new Error("cancelled by inference_cancel"));
  return true;
}

function clip(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
