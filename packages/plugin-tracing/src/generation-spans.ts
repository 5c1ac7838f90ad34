/**
 * A generation's span, a child of its request's, with the phases the pipeline contract shows
 * from outside as child spans: `queue` (the pipeline's own `timings.queuedMs`, where it reports
 * it), `prefill` (from the queue's end to the first text event) and `decode` (from the first
 * text event to the result). Attribute names follow OpenTelemetry's gen_ai conventions and
 * vLLM's latency attributes (seconds).
 */
import type { GenerateRequest, GenerationResult } from "@modelnode/core";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type HrTime, type Span, type Tracer } from "@opentelemetry/api";
import { addHrTimes, millisToHrTime } from "@opentelemetry/core";
import type { RequestTrace } from "./request-spans.js";

export class GenerationSpan {
  private readonly span: Span;
  private readonly context: Context;
  private readonly startedAt = performance.now();
  /**
   * The wall-clock time of `startedAt`: every time of this span and its phases is taken from it
   * (plus monotonic milliseconds), so that they line up exactly with one another.
   */
  private readonly anchor: HrTime = millisToHrTime(Date.now());
  private firstTextAt: number | undefined;
  private done = false;
  private readonly model: string;

  constructor(
    private readonly tracer: Tracer,
    request: GenerateRequest,
    private readonly parent: RequestTrace | undefined,
  ) {
    this.model = request.modelId;
    const operation = request.messages !== undefined ? "chat" : "text_completion";
    const attributes: Attributes = { "gen_ai.operation.name": operation, "gen_ai.request.model": request.modelId };
    if (request.maxTokens !== undefined) attributes["gen_ai.request.max_tokens"] = request.maxTokens;
    if (request.temperature !== undefined) attributes["gen_ai.request.temperature"] = request.temperature;
    if (request.topP !== undefined) attributes["gen_ai.request.top_p"] = request.topP;
    if (request.topK !== undefined) attributes["gen_ai.request.top_k"] = request.topK;
    if (request.seed !== undefined) attributes["gen_ai.request.seed"] = request.seed;
    const parentContext = parent?.context ?? ROOT_CONTEXT;
    this.span = tracer.startSpan(`${operation} ${request.modelId}`, { kind: SpanKind.INTERNAL, attributes, startTime: this.anchor }, parentContext);
    this.context = trace.setSpan(parentContext, this.span);
  }

  /** A text event: the first one ends the prefill. */
  text(): void {
    this.firstTextAt ??= performance.now();
  }

  finished(result: GenerationResult): void {
    if (this.done) return;
    const now = performance.now();
    const { promptTokens, completionTokens } = result.usage;
    this.span.setAttributes({
      "gen_ai.usage.input_tokens": promptTokens,
      "gen_ai.usage.output_tokens": completionTokens,
      "gen_ai.response.finish_reasons": [result.finishReason],
    });
    const queued = result.timings?.queuedMs;
    this.end(now, typeof queued === "number" && Number.isFinite(queued) && queued >= 0 ? queued : undefined);
    if (this.parent !== undefined && !this.parent.ended) {
      this.parent.inputTokens += promptTokens;
      this.parent.outputTokens += completionTokens;
      this.parent.span.setAttributes({
        "gen_ai.request.model": this.model,
        "gen_ai.usage.input_tokens": this.parent.inputTokens,
        "gen_ai.usage.output_tokens": this.parent.outputTokens,
      });
    }
  }

  /** The pipeline refused or failed the generation: the error's code (e.g. CONTEXT_LENGTH_EXCEEDED) or "INTERNAL_ERROR". */
  failed(error: unknown): void {
    if (this.done) return;
    const code = errorCodeOf(error);
    this.span.setAttribute("error.type", code);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: code });
    this.end(performance.now(), undefined);
  }

  /** The consumer stopped reading before the result (its client went away). */
  abandoned(): void {
    if (this.done) return;
    this.span.setAttributes({ "gen_ai.response.finish_reasons": ["cancelled"], "modelnode.generation.abandoned": true });
    this.end(performance.now(), undefined);
  }

  private end(now: number, queuedMs: number | undefined): void {
    this.done = true;
    const start = this.startedAt;
    const queueEnd = queuedMs === undefined ? start : Math.min(start + queuedMs, now);
    const firstText = this.firstTextAt === undefined ? undefined : Math.max(this.firstTextAt, queueEnd);
    const latency: Attributes = { "gen_ai.latency.e2e": seconds(now - start) };
    if (queuedMs !== undefined) {
      this.phase("queue", start, queueEnd);
      latency["gen_ai.latency.time_in_queue"] = seconds(queueEnd - start);
    }
    this.phase("prefill", queueEnd, firstText ?? now);
    latency["gen_ai.latency.time_in_model_prefill"] = seconds((firstText ?? now) - queueEnd);
    if (firstText !== undefined) {
      this.phase("decode", firstText, now);
      latency["gen_ai.latency.time_to_first_token"] = seconds(firstText - start);
      latency["gen_ai.latency.time_in_model_decode"] = seconds(now - firstText);
    }
    this.span.setAttributes(latency);
    this.span.end(this.at(now));
  }

  private at(time: number): HrTime {
    return addHrTimes(this.anchor, millisToHrTime(time - this.startedAt));
  }

  private phase(name: string, from: number, to: number): void {
    this.tracer.startSpan(name, { kind: SpanKind.INTERNAL, startTime: this.at(from) }, this.context).end(this.at(to));
  }
}

function seconds(ms: number): number {
  return ms / 1000;
}

/** A coded error's code (a ProtocolError's, thrown by the pipeline), else "INTERNAL_ERROR". */
export function errorCodeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[A-Z_]{1,64}$/.test(code) ? code : "INTERNAL_ERROR";
}
