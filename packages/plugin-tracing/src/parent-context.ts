/**
 * The caller's trace, from W3C Trace Context: an HTTP request's `traceparent` and `tracestate`
 * headers, or the same two optional fields of a WebSocket message's header (docs/protocol.md).
 * Anything malformed is ignored (the request starts a trace of its own), as the spec asks.
 */
import type { RequestStart } from "@modelnode/core";
import { ROOT_CONTEXT, type Context, type TextMapGetter } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";

const propagator = new W3CTraceContextPropagator();

type Carrier = Readonly<Record<string, unknown>>;

/** Reads header values that are strings (an HTTP header sent twice is an array: the first counts). */
const getter: TextMapGetter<Carrier> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const value = carrier[key];
    if (typeof value === "string") return value;
    if (Array.isArray(value) && typeof value[0] === "string") return value[0];
    return undefined;
  },
};

export function parentContextOf(start: RequestStart): Context {
  // Node lower-cases HTTP header names; the message header's fields are named in lower case too.
  const carrier: Carrier | undefined = start.http?.headers ?? start.header;
  if (carrier === undefined || carrier.traceparent === undefined) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, carrier, getter);
}
