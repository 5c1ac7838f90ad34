/**
 * Replies leave in batches: the replies to the frames of one read go out in one socket write
 * (connection.ts corks the socket for the rest of the event-loop turn), not one system call each.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import { createNode } from "../src/server.js";
import { header } from "./helpers.js";
import { testPlugin } from "./test-plugin.js";

/** Counts the writes a socket hands to the kernel (Node's stream calls _write or _writev once per flush). */
function countWrites(socket: Socket): { count: number } {
  const counter = { count: 0 };
  const target = socket as unknown as { _write: (...args: unknown[]) => void; _writev: (...args: unknown[]) => void };
  const write = target._write;
  const writev = target._writev;
  target._write = function (...args) {
    counter.count++;
    return write.apply(this, args);
  };
  target._writev = function (...args) {
    counter.count++;
    return writev.apply(this, args);
  };
  return counter;
}

test("a pipelining client's heartbeats read in one go are answered in one socket write, each reply whole and correlated", async () => {
  const node = await createNode({ logLevel: "silent", plugins: [testPlugin()], limits: { messagesPerSecond: 0 } });
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  await new Promise((resolve) => wss.once("listening", resolve));
  let serverWrites: { count: number } | undefined;
  wss.on("connection", (_ws, req) => (serverWrites = countWrites(req.socket)));
  node.attach(wss);

  const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`, { perMessageDeflate: false });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const ids = Array.from({ length: 8 }, (_, i) => `beat-${i}`);
  const replies: Array<{ header: { correlation_id: string; message_type: string }; worker_id: string }> = [];
  const all = new Promise<void>((resolve) =>
    ws.on("message", (data) => {
      replies.push(JSON.parse(String(data)));
      if (replies.length === ids.length) resolve();
    }),
  );
  const before = serverWrites!.count;
  // The client's eight frames leave in one TCP write, so the node reads them in one go.
  const clientSocket = (ws as unknown as { _socket: Socket })._socket;
  clientSocket.cork();
  for (const id of ids) ws.send(JSON.stringify({ header: header("heartbeat", id), worker_id: id }));
  clientSocket.uncork();
  await all;

  assert.deepEqual(
    replies.map((r) => [r.header.message_type, r.header.correlation_id, r.worker_id]),
    ids.map((id) => ["heartbeat_ack", id, id]),
  );
  // One write per reply would be eight; two allows for the frames arriving in two reads.
  const writes = serverWrites!.count - before;
  assert.ok(writes <= 2, `eight replies took ${writes} socket writes`);
  ws.close();
  await node.close();
  await new Promise((resolve) => wss.close(resolve));
});
