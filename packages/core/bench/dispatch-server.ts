/**
 * Server side of the dispatch bench, run in a child process so its CPU time is its own.
 * Mode "bare": a plain ws server that parses the heartbeat and answers the same JSON a node
 * would (fresh message_id, timestamp, correlation_id). Mode "node": a modelnode node with a
 * heartbeat handler, through the full stack (detection, header + payload validation, registry,
 * guards, envelope, stats). Mode "bare-template": the bare server, answering with a copy of a
 * reply taken from the server it is compared with (sent over IPC as `{ template }`): the same JSON
 * fields, so that both sides send as many bytes.
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

/** The reply's fields besides its header; "bare-template" replaces them with the template's. */
let replyBody: (workerId: string) => Record<string, unknown> = (workerId) => ({ worker_id: workerId, node_id: "bench", status: "healthy" });

async function startBare(): Promise<number> {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  wss.on("connection", (ws) => {
    ws.on("message", (data) => {
      const msg = JSON.parse(String(data));
      ws.send(
        JSON.stringify({
          header: {
            message_id: randomUUID(),
            message_type: "heartbeat_ack",
            protocol_version: "2.0",
            timestamp: new Date().toISOString(),
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
