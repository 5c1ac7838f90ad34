/**
 * heartbeatPlugin() options: one zod schema holds their defaults and checks, so that an
 * application can compose it into its own config schema (`heartbeatOptionsSchema.shape`).
 */
import { parsePluginOptions, z } from "@modelnode/core";
import type { HeartbeatLoad } from "./report.js";

export interface HeartbeatOptions {
  /**
   * How many distinct worker_ids the node remembers (last seen, count); beyond it the least
   * recently seen is forgotten. 0 turns tracking off. Default 10 000.
   */
  maxTrackedWorkers?: number;
  /**
   * Generations waiting in the pipeline's queue from which the node reports "degraded". A queue
   * is normal under load (continuous batching admits waiting generations as rows free up); a long
   * one means clients wait long for their first token. 0 turns the queue check off. Default 64.
   */
  degradedQueueLength?: number;
  /**
   * How long (ms) a heartbeat may reuse the pipeline's figures (sessions, generations, queue,
   * models) read for an earlier one; 0 reads them on every heartbeat. The node's own figures
   * (connections, in_flight, draining) are always current. Default 100.
   */
  pipelineReadIntervalMs?: number;
  /**
   * Extra health check: return true to report "degraded" (e.g. `(load) => load.in_flight > 32`).
   * A check that throws counts as degraded. Default: none.
   */
  degraded?: (load: HeartbeatLoad) => boolean;
}

export const DEFAULT_MAX_TRACKED_WORKERS = 10_000;
export const DEFAULT_DEGRADED_QUEUE_LENGTH = 64;
export const DEFAULT_PIPELINE_READ_INTERVAL_MS = 100;
/** Longest worker_id accepted (characters); longer ones get VALIDATION_FAILED. */
export const MAX_WORKER_ID_LENGTH = 256;

const WHOLE = "expected a whole number ≥ 0";

/** The options' rules and defaults. Messages read "expected …", so that they fit after a field name. */
export const heartbeatOptionsSchema = z.strictObject({
  maxTrackedWorkers: z.int({ error: WHOLE }).min(0, { error: WHOLE }).default(DEFAULT_MAX_TRACKED_WORKERS),
  degradedQueueLength: z.int({ error: WHOLE }).min(0, { error: WHOLE }).default(DEFAULT_DEGRADED_QUEUE_LENGTH),
  pipelineReadIntervalMs: z.int({ error: WHOLE }).min(0, { error: WHOLE }).default(DEFAULT_PIPELINE_READ_INTERVAL_MS),
  degraded: z
    .custom<(load: HeartbeatLoad) => boolean>((value) => typeof value === "function", {
      error: "expected a function returning a boolean",
    })
    .optional(),
});

/** The options with their defaults filled in. */
export type ResolvedHeartbeatOptions = z.output<typeof heartbeatOptionsSchema>;

export function resolveHeartbeatOptions(options: HeartbeatOptions = {}): ResolvedHeartbeatOptions {
  const { maxTrackedWorkers, degradedQueueLength, pipelineReadIntervalMs, degraded } = parsePluginOptions("heartbeatPlugin", heartbeatOptionsSchema, options);
  return { maxTrackedWorkers, degradedQueueLength, pipelineReadIntervalMs, degraded };
}
