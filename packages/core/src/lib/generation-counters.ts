/**
 * The figures a plugin that starts generations reports under its name in getStats(): generations
 * in flight, streamed requests, finish reasons and completion tokens (snake_case, as /stats is).
 * The inference and OpenAI plugins count with it (recordFinish, recordAbandoned); a plugin adds
 * its own fields by extending it.
 */
import type { FinishReason, GenerationResult } from "./pipeline.js";

export class GenerationCounters {
  /** Generations running for this plugin's clients. */
  inFlight = 0;
  streams = 0;
  readonly finished: Record<FinishReason, number> = { stop: 0, length: 0, cancelled: 0 };
  completionTokens = 0;

  /** Counts a generation that ended with `result`: its finish reason and its completion tokens. */
  recordFinish(result: GenerationResult): void {
    // ?? 0: a pipeline may report a reason this list does not have yet; it is counted all the same.
    this.finished[result.finishReason] = (this.finished[result.finishReason] ?? 0) + 1;
    this.completionTokens += result.usage.completionTokens;
  }

  /** Counts a streamed generation that ended without a result (its client left): a cancelled finish. */
  recordAbandoned(): void {
    this.finished.cancelled++;
  }

  snapshot(): Record<string, unknown> {
    return {
      in_flight: this.inFlight,
      streamed_requests: this.streams,
      finish_reasons: { ...this.finished },
      completion_tokens: this.completionTokens,
    };
  }
}
