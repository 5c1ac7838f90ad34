/** heartbeatPlugin() options, their defaults and their checks. */
import type { HeartbeatLoad } from "./monitor.js";

export interface HeartbeatOptions {
  /**
   * How many distinct worker_ids the node remembers (last seen, count); beyond it the least
   * recently seen is forgotten. 0 turns tracking off. Default 10 000.
   */
  maxTrackedWorkers?: number;
  /**
   * Extra health check: return true to report "degraded" (e.g. `(load) => load.in_flight > 32`).
   * A check that throws counts as degraded. Default: none.
   */
  degraded?: (load: HeartbeatLoad) => boolean;
}

export interface ResolvedHeartbeatOptions {
  maxTrackedWorkers: number;
  degraded: ((load: HeartbeatLoad) => boolean) | undefined;
}

export const DEFAULT_MAX_TRACKED_WORKERS = 10_000;
/** Longest worker_id accepted (characters); longer ones get VALIDATION_FAILED. */
export const MAX_WORKER_ID_LENGTH = 256;

export function resolveHeartbeatOptions(options: HeartbeatOptions): ResolvedHeartbeatOptions {
  const maxTrackedWorkers = options.maxTrackedWorkers ?? DEFAULT_MAX_TRACKED_WORKERS;
  if (!Number.isSafeInteger(maxTrackedWorkers) || maxTrackedWorkers < 0) {
    throw new TypeError(`heartbeatPlugin: maxTrackedWorkers must be a whole number ≥ 0 (got ${maxTrackedWorkers})`);
  }
  if (options.degraded !== undefined && typeof options.degraded !== "function") {
    throw new TypeError("heartbeatPlugin: degraded must be a function returning a boolean");
  }
  return { maxTrackedWorkers, degraded: options.degraded };
}
