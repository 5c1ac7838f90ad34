/**
 * What a row's logits go through before the sampler's temperature and cuts: the adjustments a
 * request asks for, each a `LogitProcessor`, applied in list order to the row's own copy of its
 * logits (never to the run's output, which the rows of a choice group share).
 *
 * The order, documented in docs/sampling.md:
 * 1. repetition penalty (Hugging Face / llama.cpp): every token of the prompt and of the
 *    generation so far: a positive logit divided by it, a negative one multiplied;
 * 2. frequency and presence penalties (OpenAI): logit −= frequency × count + presence × (count > 0),
 *    over the generated tokens;
 * 3. logit bias (OpenAI): bias added;
 * 4. a grammar mask, when constrained decoding adds one (it goes after the bias: push it last);
 * then, in the sampler: temperature, top-k, top-p, min-p, and the draw (greedy: argmax).
 *
 * A row that asks for none of them has an empty list: the sampler reads the run's logits as they
 * are, nothing is copied.
 */
import type { SamplerSettings } from "../messages/sampling.js";

export interface LogitProcessor {
  /** Adjusts the logits in place (the row's own copy). */
  apply(logits: Float32Array): void;
  /** The token the row generated (after the draw), for processors that keep state. */
  accepted(id: number): void;
}

/**
 * The processors a row's settings ask for, in the documented order. `promptIds` and
 * `generatedIds` (a resumed generation's earlier tokens) are what the penalties count from.
 */
export function logitProcessors(settings: SamplerSettings, promptIds: readonly number[], generatedIds: readonly number[] = []): LogitProcessor[] {
  const processors: LogitProcessor[] = [];
  const { repetitionPenalty = 1, frequencyPenalty = 0, presencePenalty = 0, logitBias } = settings;
  if (repetitionPenalty !== 1 || frequencyPenalty !== 0 || presencePenalty !== 0) {
    processors.push(new Penalties(repetitionPenalty, frequencyPenalty, presencePenalty, promptIds, generatedIds));
  }
  if (logitBias && logitBias.length > 0) processors.push(new LogitBias(logitBias));
  return processors;
}

/** Repetition, frequency and presence penalties: O(distinct tokens seen) per step, not O(vocabulary). */
export class Penalties implements LogitProcessor {
  /** Generated token → times generated. */
  private readonly counts = new Map<number, number>();
  /** Prompt and generated tokens (the repetition penalty's set); undefined when it is off. */
  private readonly seen: Set<number> | undefined;

  constructor(
    private readonly repetition: number,
    private readonly frequency: number,
    private readonly presence: number,
    promptIds: readonly number[],
    generatedIds: readonly number[],
  ) {
    this.seen = repetition !== 1 ? new Set(promptIds) : undefined;
    for (const id of generatedIds) this.accepted(id);
  }

  apply(logits: Float32Array): void {
    const vocab = logits.length;
    if (this.seen) {
      const r = this.repetition;
      for (const id of this.seen) {
        if (id >= vocab) continue;
        const value = logits[id];
        logits[id] = value > 0 ? value / r : value * r;
      }
    }
    if (this.frequency !== 0 || this.presence !== 0) {
      for (const [id, count] of this.counts) if (id < vocab) logits[id] -= this.frequency * count + this.presence;
    }
  }

  accepted(id: number): void {
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    this.seen?.add(id);
  }
}

/** OpenAI's logit_bias: each listed token's bias added to its logit. */
export class LogitBias implements LogitProcessor {
  private readonly ids: Int32Array;
  private readonly biases: Float32Array;

  constructor(entries: readonly (readonly [number, number])[]) {
    this.ids = Int32Array.from(entries, ([id]) => id);
    this.biases = Float32Array.from(entries, ([, bias]) => bias);
  }

  apply(logits: Float32Array): void {
    for (let i = 0; i < this.ids.length; i++) if (this.ids[i] < logits.length) logits[this.ids[i]] += this.biases[i];
  }

  accepted(): void {}
}
