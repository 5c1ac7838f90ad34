/**
 * What a heartbeat_ack reports: the node's status, its load and the models it serves. Its own
 * module, so that the options (whose `degraded` check reads the load) and the monitor (which
 * builds the report) both depend on it rather than on each other.
 */
import type { NodeStatus } from "@modelnode/core";

export interface HeartbeatLoad {
  /** Open WebSocket connections. */
  connections: number;
  /** Requests being processed by the node, this heartbeat included. */
  in_flight: number;
  /** Legacy step sessions the pipeline holds (0 without a pipeline). */
  active_sessions: number;
  /** Generations the pipeline is running (0 without a pipeline). */
  generations_in_flight: number;
  /** Generations waiting for a place in a batch (0 without a pipeline). */
  queued_generations: number;
}

export interface HeartbeatReport {
  node_id: string;
  status: NodeStatus;
  uptime_seconds: number;
  load: HeartbeatLoad;
  /** Ids of the models the node serves, from the pipeline's listModels(); [] without a pipeline. */
  models: string[];
}
