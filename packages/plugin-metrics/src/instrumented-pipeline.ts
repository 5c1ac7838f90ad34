/**
 * A decorator around the node's model pipeline that times what the pipeline contract shows from
 * outside: time to first token (the first text event), inter-token latency (between text
 * events), end-to-end latency and token counts (the final result's usage), and legacy steps.
 * Everything else passes through to the pipeline unchanged (its own extra methods included).
 *
 * `generate()` is served through the pipeline's `stream()` run to its `done` event (the contract
 * gives the same result either way), so that whole-reply requests get a time to first token too.
 * Times are taken as the events reach the node's thread, i.e. what the node's handlers see.
 */
import type { GenerateRequest, GenerationEvent, GenerationResult, ModelPipeline, StepRequest, StepResult } from "@modelnode/core";
import type { GenerationObserver } from "./metrics.js";

export function instrumentPipeline(target: ModelPipeline, observer: GenerationObserver): ModelPipeline {
  const overrides: Partial<Record<PropertyKey, unknown>> = {
    stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
      return observedStream(target, request, observer);
    },
    async generate(request: GenerateRequest): Promise<GenerationResult> {
      let result: GenerationResult | undefined;
      for await (const event of observedStream(target, request, observer)) {
        if (event.kind === "done") result = event.result;
      }
      if (!result) throw new Error("the model pipeline's stream ended without a result");
      return result;
    },
    async step(request: StepRequest): Promise<StepResult> {
      const started = performance.now();
      const result = await target.step(request);
      if (served(target, request.modelId)) observer.step(request.modelId, result.inputIds.length, performance.now() - started);
      return result;
    },
  };
  // Behaves as the pipeline does for everyone else, tests that replace a method included: an
  // assignment lands on the pipeline itself; assigning over an instrumented method serves the
  // assigned one (untimed) until the instrumented one is assigned back.
  const replaced = new Map<PropertyKey, PropertyDescriptor | undefined>();
  const bound = new WeakMap<object, unknown>();
  /** A method of the pipeline bound to it, always the same copy for the same function. */
  const bindOnce = (fn: (...args: unknown[]) => unknown) => {
    let copy = bound.get(fn);
    if (copy === undefined) bound.set(fn, (copy = fn.bind(target)));
    return copy;
  };
  const handler: ProxyHandler<ModelPipeline> & Required<Pick<ProxyHandler<ModelPipeline>, "get" | "set">> = {
    get(pipeline, property) {
      if (Object.hasOwn(overrides, property) && (replaced.size === 0 || !replaced.has(property))) return overrides[property];
      const value: unknown = (pipeline as unknown as Record<PropertyKey, unknown>)[property];
      if (typeof value !== "function") return value;
      return bindOnce(value as (...args: unknown[]) => unknown);
    },
    set(pipeline, property, value) {
      if (Object.hasOwn(overrides, property)) {
        if (value === overrides[property]) {
          // The instrumented method back: the pipeline gets back what it had.
          if (replaced.has(property)) {
            const own = replaced.get(property);
            if (own) Object.defineProperty(pipeline, property, own);
            else Reflect.deleteProperty(pipeline, property);
            replaced.delete(property);
          }
          return true;
        }
        if (!replaced.has(property)) replaced.set(property, Object.getOwnPropertyDescriptor(pipeline, property));
      }
      return Reflect.set(pipeline, property, value, pipeline);
    },
  };
  // The names the pipeline has now (its methods and fields) are own accessors of the decorator
  // that do what the traps do; any other name falls through to the Proxy behind them. Why: a read
  // through a Proxy costs a trap call plus V8's check of the trap's result against the target, and
  // a heartbeat reads stats and listModels on every heartbeat (npm run bench:dispatch).
  const decorator = Object.create(new Proxy(target, handler)) as ModelPipeline;
  for (const name of new Set([...Object.keys(overrides), ...propertyNames(target)])) {
    const instrumented = Object.hasOwn(overrides, name);
    // The last function read under this name and its bound copy (the same copy the traps give).
    let last: unknown;
    let lastBound: unknown;
    Object.defineProperty(decorator, name, {
      get: () => {
        if (instrumented && !replaced.has(name)) return overrides[name];
        const value: unknown = (target as unknown as Record<PropertyKey, unknown>)[name];
        if (typeof value !== "function") return value;
        if (value !== last) lastBound = bindOnce((last = value) as (...args: unknown[]) => unknown);
        return lastBound;
      },
      set: (value: unknown) => {
        handler.set(target, name, value, decorator);
      },
      configurable: true,
    });
  }
  return decorator;
}

/** Own and inherited property names of `target` (Object.prototype's and "constructor" left out). */
function propertyNames(target: object): Set<string | symbol> {
  const names = new Set<string | symbol>();
  for (let o: object | null = target; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const name of Reflect.ownKeys(o)) if (name !== "constructor") names.add(name);
  }
  return names;
}

/**
 * The pipeline's stream, passed through event by event, as a plain iterator rather than an async
 * generator so that nothing changes for the consumer: the pipeline's iteration starts when this
 * one does, a refusal still throws from the first next() before any event, and return() (the
 * consumer stopping early) reaches the pipeline at once, even while a next() is pending, and
 * cancels the generation.
 */
function observedStream(target: ModelPipeline, request: GenerateRequest, observer: GenerationObserver): AsyncIterable<GenerationEvent> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<GenerationEvent> {
      const inner = target.stream(request)[Symbol.asyncIterator]();
      // A model the pipeline does not serve is refused by it; its id (client input) is never a label.
      if (!served(target, request.modelId)) return inner;
      const model = request.modelId;
      const started = performance.now();
      let last: number | undefined;
      let ended = false;
      return {
        async next(): Promise<IteratorResult<GenerationEvent>> {
          let result: IteratorResult<GenerationEvent>;
          try {
            result = await inner.next();
          } catch (error) {
            ended = true; // a refusal or a failure: the request's error is counted by the node
            throw error;
          }
          if (result.done) {
            ended = true;
            return result;
          }
          if (ended) return result; // after the end, events (none are expected) are passed on unobserved
          const now = performance.now();
          const event = result.value;
          if (event.kind === "text") {
            if (last === undefined) observer.firstToken(model, now - started);
            else observer.interToken(model, now - last);
            last = now;
          } else if (event.kind === "done") {
            ended = true;
            observer.finished(model, event.result, now - started);
          }
          return result;
        },
        async return(value?: unknown): Promise<IteratorResult<GenerationEvent>> {
          // Neither a result nor an error: the consumer stopped reading (its client went away).
          if (!ended) observer.abandoned(model, performance.now() - started);
          ended = true;
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
