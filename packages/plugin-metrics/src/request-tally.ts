/**
 * messages_total and message_duration_seconds, counted per (protocol, type) in plain numbers and
 * read by prom-client when /metrics is scraped.
 *
 * Why not prom-client's own inc()/observe(): they build, check and hash the label set on every
 * call (the children of `labels()` too: they only bind the labels), about 2 µs a request on a
 * small shared machine — a tenth of a heartbeat's whole dispatch, for every message. Here the
 * label set is resolved once per (protocol, type); a request costs two map lookups, a bucket
 * search and a few additions.
 */
import { Counter, type Metric, type Registry } from "prom-client";

export interface Slot {
  labels: Record<string, string>;
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative); the last one is over the largest bound. */
  buckets: Float64Array;
}

export interface RequestTallyOptions {
  /** Full metric names (the prefix included). */
  countName: string;
  durationName: string;
  countHelp: string;
  durationHelp: string;
  /** Upper bounds in seconds, ascending. */
  buckets: readonly number[];
  registry: Registry;
}

export class RequestTally {
  private readonly slots = new Map<string, Map<string, Slot>>();
  private readonly bounds: readonly number[];

  constructor(options: RequestTallyOptions) {
    this.bounds = options.buckets;
    const slots = () => this.allSlots();
    new Counter({
      name: options.countName,
      help: options.countHelp,
      labelNames: ["protocol", "type"],
      registers: [options.registry],
      collect() {
        this.reset();
        for (const slot of slots()) this.inc(slot.labels, slot.count);
      },
    });
    registerTallyHistogram(options.registry, options.durationName, options.durationHelp, this.bounds, slots);
  }

  /** One request of `type` over `protocol` took `seconds`. */
  record(protocol: string, type: string, seconds: number): void {
    let byType = this.slots.get(protocol);
    if (byType === undefined) this.slots.set(protocol, (byType = new Map()));
    let slot = byType.get(type);
    if (slot === undefined) {
      slot = { labels: { protocol, type }, count: 0, sum: 0, buckets: new Float64Array(this.bounds.length + 1) };
      byType.set(type, slot);
    }
    observeInto(slot, this.bounds, seconds);
  }

  private allSlots(): Slot[] {
    return [...this.slots.values()].flatMap((byType) => [...byType.values()]);
  }
}

/** Registers a histogram read from `slots` at scrape time (see tallyHistogram). */
export function registerTallyHistogram(registry: Registry, name: string, help: string, bounds: readonly number[], slots: () => Slot[]): void {
  registry.registerMetric(tallyHistogram(name, help, bounds, slots) as unknown as Metric);
}

/** One observation into a slot: count, sum and its bucket (`bounds` ascending; the last bucket is over them all). */
export function observeInto(slot: Slot, bounds: readonly number[], seconds: number): void {
  slot.count++;
  slot.sum += seconds;
  let i = 0;
  while (i < bounds.length && seconds > bounds[i]) i++;
  slot.buckets[i]++;
}

/**
 * A histogram in the shape prom-client's Registry reads (`get()` with `_bucket` (cumulative, `le`
 * label, `+Inf` last), `_sum` and `_count` values per label set), the same lines its own
 * Histogram writes.
 */
function tallyHistogram(name: string, help: string, bounds: readonly number[], slots: () => Slot[]) {
  return {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    async get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const slot of slots()) {
        let cumulative = 0;
        for (let i = 0; i < bounds.length; i++) {
          cumulative += slot.buckets[i];
          values.push({ labels: { le: bounds[i], ...slot.labels }, value: cumulative, metricName: `${name}_bucket` });
        }
        values.push({ labels: { le: "+Inf", ...slot.labels }, value: slot.count, metricName: `${name}_bucket` });
        values.push({ labels: { ...slot.labels }, value: slot.sum, metricName: `${name}_sum` });
        values.push({ labels: { ...slot.labels }, value: slot.count, metricName: `${name}_count` });
      }
      return { name, help, type: "histogram", values, aggregator: "sum" };
    },
    reset() {},
  };
}
