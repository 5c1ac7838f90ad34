/**
 * A decorator around the node's model pipeline that gives each generation (and legacy step) a
 * span, a child of the span of the request being served (found in the request's async context).
 * Everything else passes through to the pipeline unchanged, its own extra methods included.
 *
 * As the metrics plugin does, `generate()` is served through the pipeline's `stream()` run to its
 * `done` event (the contract gives the same result either way), so that whole-reply requests get
 * prefill and decode too; a `generate` assigned onto the pipeline later is called as it is.
 */
import type { GenerateRequest, GenerationEvent, GenerationResult, ModelPipeline, StepRequest, StepResult } from "@modelnode/core";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import { errorCodeOf, GenerationSpan } from "./generation-spans.js";
import type { RequestSpans } from "./request-spans.js";

export function tracePipeline(target: ModelPipeline, tracer: Tracer, requests: RequestSpans): ModelPipeline {
  const ownGenerate = target.generate;
  const begin = (request: GenerateRequest) => (served(target, request.modelId) ? new GenerationSpan(tracer, request, requests.current()) : undefined);
  const overrides: Partial<Record<PropertyKey, unknown>> = {
    stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
      return tracedStream(target, request, begin);
    },
    async generate(request: GenerateRequest): Promise<GenerationResult> {
      if (target.generate !== ownGenerate) return tracedGenerate(target, request, begin(request));
      let result: GenerationResult | undefined;
      for await (const event of tracedStream(target, request, begin)) {
        if (event.kind === "done") result = event.result;
      }
      if (!result) throw new Error("the model pipeline's stream ended without a result");
      return result;
    },
    async step(request: StepRequest): Promise<StepResult> {
      if (!served(target, request.modelId)) return target.step(request);
      const parent = requests.current()?.context ?? ROOT_CONTEXT;
      const attributes = { "gen_ai.request.model": request.modelId, "modelnode.step.input_tokens": request.inputIds.length };
      const span = tracer.startSpan(`step ${request.modelId}`, { kind: SpanKind.INTERNAL, attributes }, parent);
      try {
        return await target.step(request);
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorCodeOf(error) });
        throw error;
      } finally {
        span.end();
      }
    },
  };
  const bound = new WeakMap<object, unknown>();
  return new Proxy(target, {
    get(pipeline, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property];
      const value: unknown = Reflect.get(pipeline, property, pipeline);
      if (typeof value !== "function") return value;
      let fn = bound.get(value);
      if (fn === undefined) {
        fn = (value as (...args: unknown[]) => unknown).bind(pipeline);
        bound.set(value, fn);
      }
      return fn;
    },
  });
}

async function tracedGenerate(target: ModelPipeline, request: GenerateRequest, span: GenerationSpan | undefined): Promise<GenerationResult> {
  try {
    const result = await target.generate(request);
    span?.finished(result);
    return result;
  } catch (error) {
    span?.failed(error);
    throw error;
  }
}

/**
 * The pipeline's stream, passed through event by event as a plain iterator (not an async
 * generator), so that nothing changes for the consumer: a refusal still throws from the first
 * next(), and return() reaches the pipeline at once, even while a next() is pending.
 */
function tracedStream(target: ModelPipeline, request: GenerateRequest, begin: (request: GenerateRequest) => GenerationSpan | undefined): AsyncIterable<GenerationEvent> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<GenerationEvent> {
      const inner = target.stream(request)[Symbol.asyncIterator]();
      const span = begin(request);
      if (span === undefined) return inner;
      return {
        async next(): Promise<IteratorResult<GenerationEvent>> {
          let result: IteratorResult<GenerationEvent>;
          try {
            result = await inner.next();
          } catch (error) {
            span.failed(error);
            throw error;
          }
          if (!result.done) {
            if (result.value.kind === "text") span.text();
            else if (result.value.kind === "done") span.finished(result.value.result);
          } else span.abandoned(); // ended without a result: nothing to report but its length
          return result;
        },
        async return(value?: unknown): Promise<IteratorResult<GenerationEvent>> {
          span.abandoned(); // no-op once the result or an error has ended the span
          return inner.return ? inner.return(value) : { done: true, value: undefined };
        },
      };
    },
  };
}

function served(target: ModelPipeline, modelId: unknown): modelId is string {
  try {
    return typeof modelId === "string" && target.hasModel(modelId);
  } catch {
    return false;
  }
}
