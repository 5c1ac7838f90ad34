// @modelnode/plugin-heartbeat: `heartbeat` → `heartbeat_ack` (node id, status, uptime, load, models).
export { heartbeatPlugin } from "./plugin.js";
export { HeartbeatHandler, heartbeatAckSchema, heartbeatSchema, type HeartbeatAck, type HeartbeatRequest } from "./heartbeat-handler.js";
export { HeartbeatMonitor } from "./monitor.js";
export { heartbeatLoadSchema, heartbeatReportSchema, type HeartbeatLoad, type HeartbeatReport } from "./report.js";
export {
  DEFAULT_DEGRADED_QUEUE_LENGTH,
  DEFAULT_MAX_TRACKED_WORKERS,
  DEFAULT_PIPELINE_READ_INTERVAL_MS,
  heartbeatOptionsSchema,
  MAX_WORKER_ID_LENGTH,
  resolveHeartbeatOptions,
  type HeartbeatOptions,
  type ResolvedHeartbeatOptions,
} from "./options.js";
export { HEARTBEAT_MONITOR } from "./tokens.js";
export { WorkerRegistry, type WorkerRecord } from "./worker-registry.js";
