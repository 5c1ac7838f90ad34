import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { pino } from "pino";
import { ProtocolError } from "../src/index.js";
import { type ModelNode } from "../src/server.js";
import { header, startNode, TestClient } from "./helpers.js";
import { testPlugin } from "./test-plugin.js";

describe("a node with a test plugin, over a real socket", () => {
  let node: ModelNode;
  let url: string;
  let client: TestClient;
  before(async () => {
    ({ node, url } = await startNode({ plugins: [testPlugin()] }));
    client = await TestClient.connect(url);
  });
  after(async () => {
    client.close();
    await node.close();
  });

  test("a request gets its reply type with correlation_id = its message_id", async () => {
    const r = await client.request({ header: header("heartbeat", "hb-1"), worker_id: "w-1" });
    assert.equal(r.header.message_type, "heartbeat_ack");
    assert.equal(r.header.correlation_id, "hb-1");
    assert.equal(r.header.protocol_version, "2.0");
    assert.notEqual(r.header.message_id, "hb-1");
    assert.equal(r.worker_id, "w-1");
  });

  test("types are strict: a string where a number belongs is VALIDATION_FAILED naming the field", async () => {
    const r = await client.request({ header: header("echo", "e-1"), text: "hi", max_tokens: "10" });
    assert.equal(r.header.message_type, "error");
    assert.equal(r.header.correlation_id, "e-1");
    assert.equal(r.code, "VALIDATION_FAILED");
    assert.deepEqual(r.details.issues.map((i: { path: string }) => i.path), ["max_tokens"]);
  });

  test("a header missing a field is VALIDATION_FAILED naming header.<field>", async () => {
    const h: Record<string, unknown> = header("heartbeat", "h-2");
    delete h.timestamp;
    const r = await client.request({ header: h, worker_id: "w" });
    assert.equal(r.code, "VALIDATION_FAILED");
    assert.equal(r.header.correlation_id, "h-2");
    assert.deepEqual(r.details.issues.map((i: { path: string }) => i.path), ["header.timestamp"]);
    const noId = await client.request({ header: { ...header("heartbeat"), message_id: 5 }, worker_id: "w" });
    assert.equal(noId.header.correlation_id, null);
    assert.equal(noId.details.issues[0].path, "header.message_id");
  });

  test("each malformed frame gets its coded error and the connection lives on", async () => {
    const cases: [unknown, string][] = [
      ["{not json", "INVALID_JSON"],
      ["[1,2,3]", "INVALID_MESSAGE"],
      ['"just a string"', "INVALID_MESSAGE"],
      [{ hello: "world" }, "UNRECOGNIZED_MESSAGE"],
      [{ header: header("teleport", "t-1") }, "UNKNOWN_MESSAGE_TYPE"],
      [{ header: { ...header("heartbeat", "v-3"), protocol_version: "3.0" }, worker_id: "w" }, "UNSUPPORTED_PROTOCOL_VERSION"],
    ];
    for (const [frame, code] of cases) {
      const r = await client.request(frame);
      assert.equal(r.header.message_type, "error", String(code));
      assert.equal(r.code, code);
      assert.equal(typeof r.message, "string");
    }
    const ok = await client.request({ header: header("heartbeat"), worker_id: "still-here" });
    assert.equal(ok.worker_id, "still-here");
  });

  test("UNKNOWN_MESSAGE_TYPE is correlated and lists what is served", async () => {
    const r = await client.request({ header: header("teleport", "t-2") });
    assert.equal(r.header.correlation_id, "t-2");
    assert.ok(r.details.supported.includes("heartbeat"));
  });

  test("a throwing handler gives INTERNAL_ERROR without internals, and the connection lives on", async () => {
    const r = await client.request({ header: header("explode", "x-1") });
    assert.equal(r.code, "INTERNAL_ERROR");
    assert.equal(r.header.correlation_id, "x-1");
    assert.ok(!JSON.stringify(r).includes("passwd"));
    assert.ok(!JSON.stringify(r).includes("at "));
    const ok = await client.request({ header: header("heartbeat"), worker_id: "after-crash" });
    assert.equal(ok.worker_id, "after-crash");
  });

  test("a ProtocolError from a handler keeps its code and details", async () => {
    const r = await client.request({ header: header("refuse", "r-1") });
    assert.equal(r.code, "MODEL_NOT_FOUND");
    assert.deepEqual(r.details, { available: ["a"] });
  });

  test("a streaming handler sends each chunk then the final reply, all correlated", async () => {
    client.send({ header: header("count", "c-1"), n: 3 });
    const frames = [await client.next(), await client.next(), await client.next(), await client.next()];
    assert.deepEqual(frames.map((f) => f.header.message_type), ["count_chunk", "count_chunk", "count_chunk", "count_response"]);
    assert.deepEqual(frames.slice(0, 3).map((f) => f.i), [0, 1, 2]);
    assert.ok(frames.every((f) => f.header.correlation_id === "c-1"));
    assert.equal(frames[3].done, true);
  });

  test("legacy messages reach the legacy handler and get legacy-shaped replies and errors", async () => {
    const r = await client.request({ session_id: "s-1", step: 0, input_tensors: { input_ids: [1, 2] } });
    assert.deepEqual(r, { session_id: "s-1", step: 0, output_tensors: { next_token_id: 7 } });
    const bad = await client.request({ session_id: "s-1", step: -1 });
    assert.equal(bad.session_id, "s-1");
    assert.equal(bad.error.code, "VALIDATION_FAILED");
    assert.equal(typeof bad.error.message, "string");
  });

  test("a heartbeat is answered while a slow request on the same connection is in flight", async () => {
    client.send({ header: header("slow", "slow-1"), ms: 300 });
    const hb = await client.request({ header: header("heartbeat", "hb-fast"), worker_id: "w" });
    assert.equal(hb.header.correlation_id, "hb-fast");
    const slow = await client.next();
    assert.equal(slow.header.correlation_id, "slow-1");
  });

  test("stats count legacy and protocol requests, per type and per error code", () => {
    const s = node.getStats();
    assert.equal(s.total_requests, s.legacy_requests + s.protocol_requests);
    assert.ok(s.legacy_requests >= 2);
    assert.equal(s.protocol_percentage, Math.round((s.protocol_requests / s.total_requests) * 10000) / 100);
    assert.ok(s.requests_by_type.heartbeat >= 4);
    assert.ok(s.errors_by_code.INTERNAL_ERROR >= 1);
    assert.ok(s.invalid_messages >= 3);
    assert.equal(s.active_connections, 1);
  });

  test("plain HTTP on the same port: /health and /stats", async () => {
    const base = url.replace("ws:", "http:");
    const health = await (await fetch(`${base}/health`)).json();
    assert.deepEqual(health, { status: "healthy" });
    const stats = (await (await fetch(`${base}/stats`)).json()) as { total_requests: unknown };
    assert.equal(typeof stats.total_requests, "number");
    assert.equal((await fetch(`${base}/other`)).status, 426);
  });
});

describe("policy, limits and faults", () => {
  test("requestClose: the reply is sent, then the connection closes with the policy code", async () => {
    const { node, url } = await startNode({ plugins: [testPlugin()] });
    const c = await TestClient.connect(url);
    const r = await c.request({ header: header("goodbye") });
    assert.equal(r.bye, true);
    assert.equal((await c.closed).code, 1008);
    await node.close();
  });

  test("requestClose closes after the reply of the request that asked, not after another one", async () => {
    const { node, url } = await startNode({ plugins: [testPlugin()] });
    const c = await TestClient.connect(url);
    c.send({ header: header("goodbye", "bye"), delay_ms: 200 });
    c.send({ header: header("heartbeat", "hb"), worker_id: "w" });
    // The heartbeat finishes first; it must not carry out the goodbye's close.
    assert.equal((await c.next()).header.correlation_id, "hb");
    assert.equal((await c.next()).header.correlation_id, "bye");
    assert.equal((await c.closed).code, 1008);
    await node.close();
  });

  test("a guard refuses a message before its handler; other types pass", async () => {
    const seen: string[] = [];
    const { node, url } = await startNode({
      plugins: [
        {
          name: "gate",
          register: (_c, host) =>
            host.addGuard((msg) => {
              seen.push(`${msg.protocol}:${msg.type}`);
              if (msg.type === "echo" || msg.protocol === "legacy") throw new ProtocolError("UNAUTHENTICATED", "log in first");
            }),
        },
        testPlugin(),
      ],
    });
    const c = await TestClient.connect(url);
    const refused = await c.request({ header: header("echo", "g-1"), text: "x" });
    assert.equal(refused.code, "UNAUTHENTICATED");
    assert.equal(refused.header.correlation_id, "g-1");
    const legacy = await c.request({ session_id: "s", step: 0 });
    assert.equal(legacy.error.code, "UNAUTHENTICATED");
    const ok = await c.request({ header: header("heartbeat"), worker_id: "w" });
    assert.equal(ok.worker_id, "w");
    assert.deepEqual(seen, ["standard:echo", "legacy:legacy", "standard:heartbeat"]);
    c.close();
    await node.close();
  });

  test("payload limits: over maxMessageBytes → PAYLOAD_TOO_LARGE; over maxPayloadBytes → close 1009; others unaffected", async () => {
    const { node, url } = await startNode({
      plugins: [testPlugin()],
      limits: { maxMessageBytes: 1000, maxPayloadBytes: 4000 },
    });
    const bystander = await TestClient.connect(url);
    const c = await TestClient.connect(url);
    const big = await c.request({ header: header("echo", "big"), text: "x".repeat(2000) });
    assert.equal(big.code, "PAYLOAD_TOO_LARGE");
    assert.equal(big.header.correlation_id, null);
    c.send({ header: header("echo"), text: "x".repeat(5000) });
    assert.equal((await c.closed).code, 1009);
    const ok = await bystander.request({ header: header("heartbeat"), worker_id: "w" });
    assert.equal(ok.worker_id, "w");
    bystander.close();
    await node.close();
  });

  test("a text frame that is not UTF-8 closes that connection with 1007; the node lives on", async () => {
    const { node, url } = await startNode({ plugins: [testPlugin()] });
    const c = await TestClient.connect(url);
    c.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
    assert.equal((await c.closed).code, 1007);
    const d = await TestClient.connect(url);
    assert.equal((await d.request({ header: header("heartbeat"), worker_id: "w" })).worker_id, "w");
    // The same bytes in a binary frame are an error reply, not a close.
    d.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: true });
    assert.equal((await d.next()).code, "INVALID_JSON");
    d.close();
    await node.close();
  });

  test("rate limit: past the bucket, RATE_LIMITED, and the connection lives on", async () => {
    const { node, url } = await startNode({
      plugins: [testPlugin()],
      limits: { messagesPerSecond: 1, messageBurst: 3 },
    });
    const c = await TestClient.connect(url);
    for (let i = 0; i < 5; i++) c.send({ header: header("heartbeat", `rl-${i}`), worker_id: "w" });
    const replies = await Promise.all(Array.from({ length: 5 }, () => c.next()));
    const codes = replies.map((r) => r.code ?? "ok");
    assert.deepEqual(codes.filter((x) => x === "ok").length, 3);
    assert.deepEqual(codes.filter((x) => x === "RATE_LIMITED").length, 2);
    assert.ok(c.ws.readyState === c.ws.OPEN);
    c.close();
    await node.close();
  });

  test("a peer that stops answering pings is terminated", async () => {
    const { node, url } = await startNode({ plugins: [testPlugin()], pingIntervalMs: 50, pingTimeoutMs: 100 });
    const { default: WebSocket } = await import("ws");
    const silent = new WebSocket(url, { autoPong: false });
    const code = await new Promise<number>((resolve) => silent.on("close", (c) => resolve(c)));
    assert.equal(code, 1006);
    const deadline = Date.now() + 2000;
    while (node.getStats().active_connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(node.getStats().active_connections, 0);
    // A normal client answers pings and stays.
    const c = await TestClient.connect(url);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await c.request({ header: header("heartbeat"), worker_id: "w" })).worker_id, "w");
    c.close();
    await node.close();
  });

  test("errors are logged once each; internal errors in full, the client sees none of it", async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } });
    const { node, url } = await startNode({ plugins: [testPlugin()], logger: pino({ level: "info" }, sink) });
    const c = await TestClient.connect(url);
    await c.request({ header: header("explode") });
    await c.request("{bad");
    c.close();
    await node.close();
    const logged = lines.map((l) => JSON.parse(l));
    const internal = logged.filter((l) => l.msg === "handler failed");
    assert.equal(internal.length, 1);
    assert.match(internal[0].err.stack, /secret internal detail/);
    assert.equal(logged.filter((l) => l.code === "INVALID_JSON").length, 1);
    assert.ok(logged.some((l) => l.msg === "connection open"));
    assert.ok(logged.some((l) => l.msg === "connection closed"));
  });
});
