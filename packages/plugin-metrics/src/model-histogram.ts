/**
 * A histogram labelled by `model` alone, counted in plain numbers and read by prom-client when
 * /metrics is scraped: the same lines prom-client's Histogram writes.
 *
 * For inter_token_latency_seconds, observed once per generated token on the main thread — the one
 * metric on the per-token path. prom-client's observe() builds, checks and hashes the label set on
 * every call (about 20 µs a token in a profile of one stream on a loaded 2-core VM, most of the
 * metrics plugin's per-token cost); here a token costs one map lookup, a bucket search and a few
 * additions, CPU that onnxruntime's threads keep.
 */
import type { Registry } from "prom-client";
import { observeInto, registerTallyHistogram, type Slot } from "./request-tally.js";

export class ModelHistogram {
  private readonly slots = new Map<string, Slot>();

  constructor(
    name: string,
    help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registerTallyHistogram(registry, name, help, bounds, () => [...this.slots.values()]);
  }

  observe(model: string, seconds: number): void {
    let slot = this.slots.get(model);
    if (slot === undefined) {
      slot = { labels: { model }, count: 0, sum: 0, buckets: new Float64Array(this.bounds.length + 1) };
      this.slots.set(model, slot);
    }
    observeInto(slot, this.bounds, seconds);
  }
}
