/** What the plugin adds to getStats() under "inference": core's generation figures and cancels. */
import { GenerationCounters } from "@modelnode/core";

export class InferenceCounters extends GenerationCounters {
  /** inference_cancel messages that found their request. */
  cancels = 0;

  override snapshot(): Record<string, unknown> {
    return { ...super.snapshot(), cancels: this.cancels };
  }
}
