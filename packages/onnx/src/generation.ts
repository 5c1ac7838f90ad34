/**
 * The generation loop: prefill the prompt, then decode one token per step with the KV cache,
 * yielding text as it becomes final. Ends on EOS or a stop string ("stop"), on max tokens or a
 * full context ("length"), or on abort ("cancelled", checked between steps).
 */
import type { FinishReason, GenerationEvent } from "@modelnode/core";
import { Sampler, type SamplerSettings } from "./sampler.js";
import { AbortedError } from "./scheduler.js";
import type { Sequence } from "./sequence.js";
import { StopSequenceMatcher } from "./stop-sequences.js";
import { createTextStream } from "./text-stream.js";

export interface GenerationSettings {
  promptIds: number[];
  maxTokens: number;
  stop: string[];
  sampling: SamplerSettings;
  signal?: AbortSignal;
  /** Called once per generated token, and once when the result is ready (for stats). */
  onToken?: () => void;
  onDone?: () => void;
}

/** What the loop needs of a sequence (a `Sequence`; tests substitute a scripted one). */
export type GenerationTarget = Pick<Sequence, "model" | "length" | "forward">;

export async function* runGeneration(sequence: GenerationTarget, settings: GenerationSettings): AsyncGenerator<GenerationEvent> {
  const { model } = sequence;
  const { promptIds, maxTokens, signal } = settings;
  const sampler = new Sampler(settings.sampling);
  const decoder = createTextStream(model.tokenizer, promptIds);
  const matcher = new StopSequenceMatcher(settings.stop);
  let completionTokens = 0;
  let finishReason: FinishReason | undefined;
  let hitStopString = false;

  let logits = await forwardOrCancel(sequence, promptIds, signal);
  while (logits) {
    const id = sampler.next(logits);
    if (model.eosTokenIds.has(id)) {
      finishReason = "stop";
      break;
    }
    completionTokens++;
    settings.onToken?.();
    const { emit, stopped } = matcher.push(decoder.push(id));
    if (emit) yield { kind: "text", text: emit };
    if (stopped) {
      finishReason = "stop";
      hitStopString = true;
      break;
    }
    // prompt + completion may fill the context; the last sampled token is never fed back.
    if (completionTokens >= maxTokens || sequence.length + 1 >= model.contextLength) {
      finishReason = "length";
      break;
    }
    logits = await forwardOrCancel(sequence, [id], signal);
  }
  finishReason ??= "cancelled";

  if (!hitStopString) {
    // Characters still held back by the decoder (an incomplete UTF-8 sequence) come out now, and
    // text held back as a possible stop-string start is released; the former may still complete
    // a stop string.
    const tail = matcher.push(decoder.flush());
    let rest = tail.emit;
    if (tail.stopped) finishReason = "stop";
    else rest += matcher.finish();
    if (rest) yield { kind: "text", text: rest };
  }
  settings.onDone?.();
  yield {
    kind: "done",
    result: { text: matcher.fullText, finishReason, usage: { promptTokens: promptIds.length, completionTokens } },
  };
}

/** Logits after `ids`, or undefined when the request was aborted before or while waiting. */
async function forwardOrCancel(sequence: GenerationTarget, ids: number[], signal?: AbortSignal): Promise<Float32Array | undefined> {
  if (signal?.aborted) return undefined;
  try {
    return await sequence.forward(ids, { signal });
  } catch (error) {
    if (error instanceof AbortedError) return undefined;
    throw error;
  }
}
