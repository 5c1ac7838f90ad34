/** `heartbeat` → `heartbeat_ack`: the node's id, status, uptime, load and models, echoing worker_id. */
import { inject, MessageHandler, z } from "@modelnode/core";
import type { HeartbeatMonitor } from "./monitor.js";
import type { HeartbeatReport } from "./report.js";
import { MAX_WORKER_ID_LENGTH } from "./options.js";
import { HEARTBEAT_MONITOR } from "./tokens.js";

export const heartbeatSchema = z.object({
  worker_id: z.string().min(1).max(MAX_WORKER_ID_LENGTH),
});
export type HeartbeatRequest = z.infer<typeof heartbeatSchema>;

export interface HeartbeatAck extends HeartbeatReport {
  worker_id: string;
}

@MessageHandler("heartbeat", { schema: heartbeatSchema, replyType: "heartbeat_ack" })
export class HeartbeatHandler {
  constructor(@inject(HEARTBEAT_MONITOR) private readonly monitor: HeartbeatMonitor) {}

  handle(msg: HeartbeatRequest): HeartbeatAck {
    this.monitor.workers.seen(msg.worker_id);
    return { worker_id: msg.worker_id, ...this.monitor.report() };
  }
}
