/** What the plugin adds to getStats() under "openai". */
import type { FinishReason } from "@modelnode/core";

export class OpenAICounters {
  /** Generations running for this plugin's clients. */
  inFlight = 0;
  streams = 0;
  readonly finished: Record<FinishReason, number> = { stop: 0, length: 0, cancelled: 0 };
  completionTokens = 0;

  snapshot() {
    return {
      in_flight: this.inFlight,
      streamed_requests: this.streams,
      finish_reasons: { ...this.finished },
      completion_tokens: this.completionTokens,
    };
  }
}
