/** `heartbeat` → `heartbeat_ack`: the node's id, status, uptime, load and models, echoing worker_id. */
import { inject, MessageHandler, z } from "@modelnode/core";
import type { HeartbeatMonitor } from "./monitor.js";
import { heartbeatReportSchema } from "./report.js";
import { MAX_WORKER_ID_LENGTH } from "./options.js";
import { HEARTBEAT_MONITOR } from "./tokens.js";

export const heartbeatSchema = z.object({
  worker_id: z.string().min(1).max(MAX_WORKER_ID_LENGTH),
});
export type HeartbeatRequest = z.infer<typeof heartbeatSchema>;

/** heartbeat_ack beside its header: the report, echoing the request's worker_id. */
export const heartbeatAckSchema = heartbeatReportSchema.extend({ worker_id: z.string().describe("The request's, echoed.") });

export type HeartbeatAck = z.infer<typeof heartbeatAckSchema>;

@MessageHandler("heartbeat", { schema: heartbeatSchema, replyType: "heartbeat_ack", replySchema: heartbeatAckSchema })
export class HeartbeatHandler {
  constructor(@inject(HEARTBEAT_MONITOR) private readonly monitor: HeartbeatMonitor) {}

  handle(msg: HeartbeatRequest): HeartbeatAck {
    const now = Date.now();
    this.monitor.workers.seen(msg.worker_id, now);
    const { node_id, status, uptime_seconds, load, models } = this.monitor.report(now);
    // Named, not spread (`...report`): a spread copy takes V8's generic path, on every heartbeat.
    return { worker_id: msg.worker_id, node_id, status, uptime_seconds, load, models };
  }
}
