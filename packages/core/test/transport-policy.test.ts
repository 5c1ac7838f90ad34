/**
 * The same policy on every way in: a node's own port, attach(wss) on the caller's server, and
 * sockets adopted through processMessage. Each test here failed before its fix.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { pino } from "pino";
import WebSocket, { WebSocketServer } from "ws";
import { definePlugin } from "../src/index.js";
import { closeOnSignals, createNode } from "../src/server.js";
import { header, TestClient } from "./helpers.js";
import { testPlugin, TestCount } from "./test-plugin.js";

const silent = { logLevel: "silent" } as const;

async function listeningWss(): Promise<{ wss: WebSocketServer; url: string }> {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise((r) => wss.once("listening", r));
  return { wss, url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}` };
}

function closeEvent(url: string, headers: Record<string, string> = {}): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.once("error", reject);
  });
}

test("attach(wss): the origin check, the connection cap and the draining refusal apply", async () => {
  const node = await createNode({ ...silent, allowedOrigins: ["https://app.example"], limits: { maxConnections: 1 }, plugins: [testPlugin()] });
  const { wss, url } = await listeningWss();
  node.attach(wss);
  assert.deepEqual(await closeEvent(url, { origin: "https://evil.example" }), { code: 1008, reason: "Forbidden" });
  const first = await TestClient.connect(url);
  first.ws.close();
  await first.closed;
  const ok = new WebSocket(url, { headers: { origin: "https://app.example" } });
  await new Promise((r) => ok.once("open", r));
  assert.equal((await closeEvent(url, { origin: "https://app.example" })).code, 1013, "over maxConnections");
  ok.close();
  const closing = node.close();
  assert.equal((await closeEvent(url, { origin: "https://app.example" })).code, 1013, "while draining");
  await closing;
  wss.close();
});

test("gradual adoption: adopted sockets are counted, and their work is cancelled before close hooks run", async () => {
  const events: string[] = [];
  const hooks = definePlugin({ name: "hooks", register: (_c, host) => host.onClose(() => void events.push(`close hook (cancelled so far: ${TestCount.cancelled - before})`)) });
  const node = await createNode({ ...silent, shutdownTimeoutMs: 50, plugins: [testPlugin({ legacy: false }), hooks] });
  const before = TestCount.cancelled;
  const { wss, url } = await listeningWss();
  wss.on("connection", (ws) => ws.on("message", (data, isBinary) => void node.processMessage(ws, data, isBinary)));
  const c = await TestClient.connect(url);
  c.send({ header: header("count"), n: 1000, delay_ms: 20 });
  assert.equal((await c.next()).header.message_type, "count_chunk");
  assert.equal(node.getStats().active_connections, 1, "the adopted socket is a connection of the node");
  assert.equal(node.getStats().in_flight, 1);
  await node.close();
  events.push(`after close (cancelled: ${TestCount.cancelled - before})`);
  assert.deepEqual(events, ["close hook (cancelled so far: 1)", "after close (cancelled: 1)"]);
  assert.equal(node.getStats().in_flight, 0);
  // The caller's socket stays the caller's: the node cancelled its work but did not close it.
  assert.equal(c.ws.readyState, WebSocket.OPEN);
  c.close();
  await c.closed;
  assert.equal(node.getStats().active_connections, 0);
  wss.close();
});

test("oversize frames spend rate-limit tokens like any other frame", async () => {
  const node = await createNode({ ...silent, limits: { maxMessageBytes: 64, messagesPerSecond: 1, messageBurst: 3 }, plugins: [testPlugin()] });
  const { port } = await node.listen(0, "127.0.0.1");
  const c = await TestClient.connect(`ws://127.0.0.1:${port}`);
  const big = JSON.stringify({ header: header("echo"), text: "x".repeat(200) });
  const codes: string[] = [];
  for (let i = 0; i < 5; i++) codes.push((await c.request(big)).code);
  assert.deepEqual(codes, ["PAYLOAD_TOO_LARGE", "PAYLOAD_TOO_LARGE", "PAYLOAD_TOO_LARGE", "RATE_LIMITED", "RATE_LIMITED"]);
  c.close();
  await node.close();
});

test("credentials are redacted in a logger the caller supplies, too", async () => {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) });
  const logger = pino({ level: "info" }, sink);
  const leaky = definePlugin({ name: "leaky", register: (_c, host) => host.logger.info({ license_key: "sk-secret", header: { license_hash: "h-secret" } }, "logged by a plugin") });
  const node = await createNode({ logger, plugins: [leaky] });
  await node.close();
  const line = lines.find((l) => l.includes("logged by a plugin"));
  assert.ok(line, "the plugin's line reached the caller's logger");
  assert.doesNotMatch(line, /sk-secret|h-secret/);
  assert.match(line, /\[redacted\]/);
});

test("closeOnSignals: the first signal closes gracefully and exits 0; a second exits at once with 130", async () => {
  const exits: number[] = [];
  let closes = 0;
  let finish!: () => void;
  const node = { close: () => ((closes++), new Promise<void>((r) => (finish = r))) };
  const remove = closeOnSignals(node, { signals: ["SIGUSR2"], exit: (code) => void exits.push(code), coalesceMs: 20 });
  try {
    process.emit("SIGUSR2", "SIGUSR2");
    assert.equal(closes, 1);
    assert.deepEqual(exits, []);
    await new Promise((r) => setTimeout(r, 40));
    process.emit("SIGUSR2", "SIGUSR2");
    assert.deepEqual(exits, [130]);
    finish();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(exits, [130, 0]);
  } finally {
    remove();
  }
  assert.equal(process.listenerCount("SIGUSR2"), 0);
});

test("closeOnSignals: signals within coalesceMs of the first are one event (a group's Ctrl-C, a wrapper passing it on): one drain, no forced exit", async () => {
  const exits: number[] = [];
  let closes = 0;
  let finish!: () => void;
  const node = { close: () => ((closes++), new Promise<void>((r) => (finish = r))) };
  const seen: boolean[] = [];
  const remove = closeOnSignals(node, { signals: ["SIGUSR2"], exit: (code) => void exits.push(code), onSignal: (_s, again) => void seen.push(again) });
  try {
    process.emit("SIGUSR2", "SIGUSR2");
    process.emit("SIGUSR2", "SIGUSR2");
    process.emit("SIGUSR2", "SIGUSR2");
    assert.equal(closes, 1);
    assert.deepEqual(seen, [false], "the repeats are not reported as a second signal");
    finish();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(exits, [0], "drained, not forced");
  } finally {
    remove();
  }
});
