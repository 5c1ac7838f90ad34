/**
 * The figures a plugin that starts generations reports under its name in getStats(): generations
 * in flight, streamed requests, finish reasons and completion tokens (snake_case, as /stats is).
 * The inference and OpenAI plugins count with it; a plugin adds its own fields by extending it.
 */
import type { FinishReason } from "./pipeline.js";

export class GenerationCounters {
  /** Generations running for this plugin's clients. */
  inFlight = 0;
  streams = 0;
  readonly finished: Record<FinishReason, number> = { stop: 0, length: 0, cancelled: 0 };
  completionTokens = 0;

  snapshot(): Record<string, unknown> {
    return {
      in_flight: this.inFlight,
      streamed_requests: this.streams,
      finish_reasons: { ...this.finished },
      completion_tokens: this.completionTokens,
    };
  }
}
