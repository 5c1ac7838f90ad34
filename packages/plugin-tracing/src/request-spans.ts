/**
 * A span per request, whichever door it came in by. core runs each admitted request inside this
 * plugin's request scope (`host.scopeRequests`): the span starts there, with the caller's trace
 * as its parent, and is held in an AsyncLocalStorage for the request's whole walk, so that the
 * traced pipeline finds it (a generation's spans are its children) and the request's end
 * observer (`host.onRequestEnd`, which runs inside the walk) ends it with the outcome.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Logger, RequestEnd, RequestScope, RequestStart } from "@modelnode/core";
import { SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from "@opentelemetry/api";
import { parentContextOf } from "./parent-context.js";

/** One request's trace: its span, and the context its generations' spans start in. */
export interface RequestTrace {
  readonly span: Span;
  readonly context: Context;
  /** Token counts of the request's generations, summed (set on the span as they finish). */
  inputTokens: number;
  outputTokens: number;
  ended: boolean;
}

export class RequestSpans {
  private readonly storage = new AsyncLocalStorage<RequestTrace>();

  constructor(
    private readonly tracer: Tracer,
    private readonly logger: Logger,
  ) {}

  /** The trace of the request being served here; undefined outside one (a pipeline's own work). */
  current(): RequestTrace | undefined {
    return this.storage.getStore();
  }

  /** host.scopeRequests's scope: tracing never stops a request, even when it fails itself. */
  readonly scope: RequestScope = (start, walk) => {
    let request: RequestTrace;
    try {
      request = this.begin(start);
    } catch (err) {
      this.logger.error({ err }, "could not start a request span");
      return walk();
    }
    return this.storage.run(request, walk);
  };

  /** host.onRequestEnd's observer: runs inside the scope above, so the store is this request's. */
  readonly ended = (event: RequestEnd): void => {
    const request = this.storage.getStore();
    if (request === undefined || request.ended) return;
    request.ended = true;
    const { span } = request;
    span.setAttribute("modelnode.outcome", event.outcome);
    if (event.outcome !== "ok") {
      span.setAttribute("error.type", event.outcome);
      span.setStatus({ code: SpanStatusCode.ERROR, message: event.outcome });
    }
    span.end();
  };

  private begin(start: RequestStart): RequestTrace {
    const parent = parentContextOf(start);
    const attributes: Attributes = {
      "modelnode.protocol": start.protocol,
      "modelnode.request.type": start.type,
      "modelnode.connection.id": start.context.connectionId,
    };
    if (start.header !== undefined) attributes["modelnode.message.id"] = start.header.message_id;
    if (start.http !== undefined) {
      attributes["http.request.method"] = start.http.method;
      attributes["url.path"] = start.http.path;
    }
    if (start.context.remoteAddress !== undefined) attributes["client.address"] = start.context.remoteAddress;
    // Named by its type: the message_type, or the route's name ("POST /v1/chat/completions").
    const span = this.tracer.startSpan(start.type, { kind: SpanKind.SERVER, attributes }, parent);
    return { span, context: trace.setSpan(parent, span), inputTokens: 0, outputTokens: 0, ended: false };
  }
}
