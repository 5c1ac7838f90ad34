/** metricsPlugin's options: a zod schema, so that applications can put them in their config files. */
import { z } from "@modelnode/core";

/** Prometheus metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; the prefix is their first part (colons are for recording rules). */
const PREFIX = /^([a-zA-Z_][a-zA-Z0-9_]*)?$/;

export const metricsOptionsSchema = z.strictObject({
  /** Where Prometheus scrapes: GET (and HEAD) on the node's port, unguarded, not counted as a request. */
  path: z
    .string({ error: "expected a path starting with /" })
    .startsWith("/", { error: "expected a path starting with /" })
    .max(256, { error: "expected at most 256 characters" })
    .refine((path) => !path.includes("?") && !path.includes("#"), { error: "expected a path without query or fragment" })
    .default("/metrics"),
  /** Put in front of every metric's name (the process metrics' too). */
  prefix: z
    .string({ error: "expected a string" })
    .regex(PREFIX, { error: "expected letters, digits and underscores, not starting with a digit" })
    .max(64, { error: "expected at most 64 characters" })
    .default("modelnode_"),
  /** prom-client's default process and Node.js metrics (CPU, memory, event-loop lag, GC, handles). */
  processMetrics: z.boolean({ error: "expected true or false" }).default(true),
});

export type MetricsOptions = z.input<typeof metricsOptionsSchema>;
export type ResolvedMetricsOptions = z.output<typeof metricsOptionsSchema>;
