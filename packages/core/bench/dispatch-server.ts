/**
 * Server side of the dispatch bench, run in a child process so its CPU time is its own.
 * Mode "bare": a plain ws server that parses the heartbeat and answers the same JSON a node
 * would (fresh message_id, timestamp, correlation_id). Mode "node": a modelnode node with a
 * heartbeat handler, through the full stack (detection, header + payload validation, registry,
 * guards, envelope, stats). Mode "bare-template": the bare server, answering with a copy of a
 * reply taken from the server it is compared with (sent over IPC as `{ template }`): the same JSON
 * fields, so that both sides send as many bytes. A "-corked" suffix ("bare-corked",
 * "bare-template-corked"): the bare server also coalesces the replies of one event-loop turn into
 * one socket write, as core does, so that the ratio against it is the framework's own work.
 */
import { randomUUID } from "node:crypto";
import { WebSocketServer } from "ws";
import { MessageHandler, z } from "../src/index.js";
import { createNode } from "../src/server.js";
import "./cpu-meter.js";

const heartbeatSchema = z.object({ worker_id: z.string().min(1).max(256) });

@MessageHandler("heartbeat", { schema: heartbeatSchema, replyType: "heartbeat_ack" })
class BenchHeartbeat {
  handle(msg: z.infer<typeof heartbeatSchema>) {
    return { worker_id: msg.worker_id, node_id: "bench", status: "healthy" };
  }
}

/**
 * The timestamp formatted once per millisecond, as core's envelope does (envelope.ts): the bare
 * server gets every trick the node uses that any hand-written server could, so the ratio measures
 * the framework's own work, not a formatting shortcut one side lacks.
 */
let stampMs = -1;
let stamp = "";
function isoNow(): string {
  const now = Date.now();
  if (now !== stampMs) {
    stampMs = now;
    stamp = new Date(now).toISOString();
  }
  return stamp;
}

/** The reply's fields besides its header; "bare-template" replaces them with the template's. */
let replyBody: (workerId: string) => Record<string, unknown> = (workerId) => ({ worker_id: workerId, node_id: "bench", status: "healthy" });

async function startBare(): Promise<number> {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  wss.on("connection", (ws, req) => {
    // "-corked" modes: the replies of one event-loop turn leave in one write, as core's Connection does.
    let corked = false;
    const uncork = () => {
      corked = false;
      req.socket.uncork();
    };
    ws.on("message", (data) => {
      const msg = JSON.parse(String(data));
      if (coalesce && !corked) {
        corked = true;
        req.socket.cork();
        process.nextTick(uncork);
      }
      ws.send(
        JSON.stringify({
          header: {
            message_id: randomUUID(),
            message_type: "heartbeat_ack",
            protocol_version: "2.0",
            timestamp: isoNow(),
            correlation_id: msg.header.message_id,
          },
          ...replyBody(msg.worker_id),
        }),
      );
    });
  });
  await new Promise((r) => wss.once("listening", r));
  return (wss.address() as { port: number }).port;
}

async function startNodeServer(): Promise<number> {
  const node = await createNode({
    logLevel: "silent",
    plugins: [{ name: "bench", handlers: [BenchHeartbeat] }],
    limits: { messagesPerSecond: 0 },
  });
  return (await node.listen(0, "127.0.0.1")).port;
}

const mode = process.argv[2];
const coalesce = mode.endsWith("-corked");
const port = mode === "node" ? await startNodeServer() : await startBare();
// "reset", "read" and "exit" are answered by cpu-meter.ts (imported above), as for the example node.
process.on("message", (msg: unknown) => {
  if (typeof msg === "object" && msg !== null && "template" in msg) {
    const { header: _header, ...body } = (msg as { template: Record<string, unknown> }).template;
    replyBody = (workerId) => ({ ...body, worker_id: workerId });
    process.send!({ templated: true });
  }
});
process.send!({ port });
