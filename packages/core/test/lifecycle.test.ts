import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import WebSocket, { WebSocketServer } from "ws";
import { createNode } from "../src/server.js";
import { header, startNode, TestClient } from "./helpers.js";
import { TestCount, testPlugin } from "./test-plugin.js";

test("close(): in-flight requests finish and are answered, then sockets close with 1001", async () => {
  const { node, url } = await startNode({ plugins: [testPlugin()] });
  const c = await TestClient.connect(url);
  c.send({ header: header("slow", "s-1"), ms: 200 });
  await new Promise((r) => setTimeout(r, 20));
  const closing = node.close(5000);
  assert.equal(node.status(), "draining");
  const reply = await c.next();
  assert.equal(reply.header.correlation_id, "s-1");
  assert.equal(reply.cancelled, false);
  assert.equal((await c.closed).code, 1001);
  await closing;
  // Nothing is accepted any more.
  await assert.rejects(TestClient.connect(url));
});

test("close(): past the deadline, in-flight work is cancelled and still gets a reply", async () => {
  const { node, url } = await startNode({ plugins: [testPlugin()] });
  const c = await TestClient.connect(url);
  c.send({ header: header("slow", "s-long"), ms: 30_000 });
  c.send({ header: header("count", "c-long"), n: 1000, delay_ms: 20 });
  await new Promise((r) => setTimeout(r, 50));
  const before = TestCount.cancelled;
  await node.close(100);
  const frames: any[] = [];
  for (;;) {
    try {
      frames.push(await c.next(200));
    } catch {
      break;
    }
  }
  const slow = frames.find((f) => f.header.correlation_id === "s-long");
  assert.equal(slow.cancelled, true);
  const countFinal = frames.find((f) => f.header.correlation_id === "c-long" && f.header.message_type === "count_response");
  assert.equal(countFinal.finish_reason, "cancelled");
  assert.equal(TestCount.cancelled, before + 1);
  assert.equal((await c.closed).code, 1001);
});

test("a client disconnecting mid-stream stops the stream (the handler sees its signal)", async () => {
  const { node, url } = await startNode({ plugins: [testPlugin()] });
  const c = await TestClient.connect(url);
  const before = TestCount.cancelled;
  c.send({ header: header("count", "c-x"), n: 1000, delay_ms: 5 });
  await c.next();
  c.ws.terminate();
  const deadline = Date.now() + 3000;
  while (node.getStats().in_flight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(node.getStats().in_flight, 0);
  assert.ok(TestCount.cancelled >= before);
  await node.close();
});

test("gradual adoption: processMessage answers standard messages and hands the rest back", async () => {
  const node = await createNode({ logLevel: "silent", plugins: [testPlugin({ legacy: false })] });
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  const oldLogic: string[] = [];
  wss.on("connection", (ws) => {
    ws.on("message", async (data, isBinary) => {
      const handled = await node.processMessage(ws, data, isBinary);
      if (!handled) {
        oldLogic.push(String(data));
        ws.send(JSON.stringify({ old: true }));
      }
    });
  });
  await new Promise((r) => wss.once("listening", r));
  const { port } = wss.address() as { port: number };
  const c = await TestClient.connect(`ws://127.0.0.1:${port}`);
  const hb = await c.request({ header: header("heartbeat", "g-1"), worker_id: "w" });
  assert.equal(hb.header.correlation_id, "g-1");
  const legacy = await c.request({ session_id: "s", step: 0, input_tensors: { input_ids: "Hello" } });
  assert.deepEqual(legacy, { old: true });
  assert.equal(oldLogic.length, 1);
  c.close();
  wss.close();
  await node.close();
});

test("attach: serve the protocol on an existing http.Server or WebSocketServer", async () => {
  const node = await createNode({ logLevel: "silent", plugins: [testPlugin()] });
  const server = createServer();
  node.attach(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as { port: number };
  const c = await TestClient.connect(`ws://127.0.0.1:${port}`);
  assert.equal((await c.request({ header: header("heartbeat"), worker_id: "a" })).worker_id, "a");
  c.close();

  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise((r) => wss.once("listening", r));
  node.attach(wss);
  const d = await TestClient.connect(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
  assert.equal((await d.request({ session_id: "s", step: 2 })).output_tensors.next_token_id, 7);
  d.close();
  await node.close();
  wss.close();
  server.close();
});

test("connection caps: over the per-address cap the upgrade is refused; existing ones are fine", async () => {
  const { node, url } = await startNode({ plugins: [testPlugin()], limits: { maxConnectionsPerAddress: 2 } });
  const a = await TestClient.connect(url);
  const b = await TestClient.connect(url);
  const refused = await new Promise<number>((resolve) => {
    const ws = new WebSocket(url);
    ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    ws.on("open", () => resolve(101));
  });
  assert.equal(refused, 429);
  assert.equal((await a.request({ header: header("heartbeat"), worker_id: "w" })).worker_id, "w");
  a.close();
  b.close();
  await node.close();
});
