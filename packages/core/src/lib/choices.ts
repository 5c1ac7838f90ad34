/**
 * Several choices for one request (OpenAI's `n`) on any pipeline: `n` copies of the request, one
 * generation each, their events merged into one stream tagged with the choice's index.
 *
 * The copies share one `ChoiceGroup` (so a pipeline that knows it may prefill the prompt once
 * for all of them); they differ only in the seed: with a `seed`, choice i gets seed + i, so every
 * choice is reproducible and choice 0 is what the same request with n = 1 gives. Each choice is
 * an ordinary generation for everything around the pipeline (metrics, tracing, cancellation).
 */
import type { ChoiceGroup, GenerateRequest, GenerationEvent, GenerationResult, ModelPipeline } from "./pipeline.js";

/** An event of one choice: `index` says which. */
export type ChoiceEvent = GenerationEvent & { index: number };

/** The `n` requests of `n` choices (one group; seeds seed + i). */
export function choiceRequests(request: GenerateRequest, n: number): GenerateRequest[] {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`n must be a positive integer (got ${n})`);
  if (n === 1) return [request];
  const group: ChoiceGroup = { size: n };
  return Array.from({ length: n }, (_, index) => ({
    ...request,
    ...(request.seed !== undefined ? { seed: request.seed + index } : {}),
    choice: { group, index },
  }));
}

/**
 * The events of `n` choices as one stream, in the order they come. Every choice's generation is
 * started when iteration starts (before the first event: a refusal still throws from the first
 * next()); a failing choice stops the others and throws; return() stops them all.
 */
export function streamChoices(pipeline: Pick<ModelPipeline, "stream">, request: GenerateRequest, n: number): AsyncIterable<ChoiceEvent> {
  return mergeChoices(choiceRequests(request, n).map((each) => pipeline.stream(each)));
}

/** The results of `n` choices, by index (a failing choice stops the others and throws). */
export async function generateChoices(pipeline: Pick<ModelPipeline, "stream">, request: GenerateRequest, n: number): Promise<GenerationResult[]> {
  const results: GenerationResult[] = new Array(n);
  for await (const event of streamChoices(pipeline, request, n)) if (event.kind === "done") results[event.index] = event.result;
  return results;
}

type Settled = { index: number; result: IteratorResult<GenerationEvent> };

function mergeChoices(streams: AsyncIterable<GenerationEvent>[]): AsyncIterable<ChoiceEvent> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<ChoiceEvent> {
      const iterators = streams.map((stream) => stream[Symbol.asyncIterator]());
      const pending = new Map<number, Promise<Settled>>();
      const pull = (index: number) => {
        const next = iterators[index].next().then((result) => ({ index, result }));
        next.catch(() => {}); // raced below; never an unhandled rejection when nobody races it any more
        pending.set(index, next);
      };
      const stopAll = async () => {
        pending.clear();
        await Promise.allSettled(iterators.map((iterator) => iterator.return?.()));
      };
      iterators.forEach((_, index) => pull(index));
      return {
        async next(): Promise<IteratorResult<ChoiceEvent>> {
          while (pending.size > 0) {
            let settled: Settled;
            try {
              settled = await Promise.race(pending.values());
            } catch (error) {
              await stopAll();
              throw error;
            }
            pending.delete(settled.index);
            if (settled.result.done) continue;
            pull(settled.index);
            return { done: false, value: { ...settled.result.value, index: settled.index } };
          }
          return { done: true, value: undefined };
        },
        async return(): Promise<IteratorResult<ChoiceEvent>> {
          await stopAll();
          return { done: true, value: undefined };
        },
      };
    },
  };
}
