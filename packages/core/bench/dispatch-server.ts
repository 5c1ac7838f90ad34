/**
 * Server side of the dispatch bench, run in a child process so its CPU time is its own.
 * Mode "bare": a plain ws server that parses the heartbeat and answers the same JSON a node
 * would (fresh message_id, timestamp, correlation_id). Mode "node": a modelnode node with a
 * heartbeat handler, through the full stack (detection, header + payload validation, registry,
 * guards, envelope, stats).
 */
import { randomUUID } from "node:crypto";
import { WebSocketServer } from "ws";
import { MessageHandler, z } from "../src/index.js";
import { createNode } from "../src/server.js";

const heartbeatSchema = z.object({ worker_id: z.string().min(1).max(256) });

@MessageHandler("heartbeat", { schema: heartbeatSchema, replyType: "heartbeat_ack" })
class BenchHeartbeat {
  handle(msg: z.infer<typeof heartbeatSchema>) {
    return { worker_id: msg.worker_id, node_id: "bench", status: "healthy" };
  }
}

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
          worker_id: msg.worker_id,
          node_id: "bench",
          status: "healthy",
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
const port = mode === "bare" ? await startBare() : await startNodeServer();
let mark = process.cpuUsage();
process.on("message", (msg: string) => {
  if (msg === "reset") {
    mark = process.cpuUsage();
    process.send!({ reset: true });
  } else if (msg === "read") {
    const used = process.cpuUsage(mark);
    process.send!({ cpuMicros: used.user + used.system });
  } else if (msg === "exit") {
    process.exit(0);
  }
});
process.send!({ port });
