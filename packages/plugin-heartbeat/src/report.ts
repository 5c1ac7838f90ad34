/**
 * What a heartbeat_ack reports: the node's status, its load and the models it serves, as zod
 * schemas (the handler declares them as its reply, so the AsyncAPI document describes them and
 * the compiler and the tests hold the handler to them) and the types that follow. Its own
 * module, so that the options (whose `degraded` check reads the load) and the monitor (which
 * builds the report) both depend on it rather than on each other.
 */
import { z } from "@modelnode/core";

/** A count: a whole number, 0 or more. */
const count = () => z.int().min(0);

export const heartbeatLoadSchema = z.object({
  connections: count().describe("Open WebSocket connections."),
  in_flight: count().describe("Requests being processed by the node, this heartbeat included."),
  active_sessions: count().describe("Legacy step sessions the pipeline holds (0 without a pipeline)."),
  generations_in_flight: count().describe("Generations the pipeline is running (0 without a pipeline)."),
  queued_generations: count().describe("Generations waiting for a place in a batch (0 without a pipeline)."),
});

export type HeartbeatLoad = z.infer<typeof heartbeatLoadSchema>;

export const heartbeatReportSchema = z.object({
  node_id: z.string().describe("The node's own id (createNode's nodeId)."),
  /** core's NodeStatus values: the monitor (which reports a NodeStatus) stops compiling if core adds one this lacks. */
  status: z.enum(["healthy", "degraded", "draining"]).describe("draining while the node closes; degraded when it serves but is in trouble."),
  uptime_seconds: count().describe("Whole seconds since the node was created."),
  load: heartbeatLoadSchema,
  models: z.array(z.string()).describe("Ids of the models the node serves, from the pipeline's listModels(); [] without a pipeline."),
});

export type HeartbeatReport = z.infer<typeof heartbeatReportSchema>;
