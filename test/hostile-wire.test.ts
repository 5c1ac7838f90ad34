// Hostile bytes below the message layer: garbage instead of HTTP, broken upgrades, and
// WebSocket frames that break the protocol. Each costs only its own connection (a 4xx answer or a
// protocol close), and the node serves everyone else throughout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { TestClient, header } from "@modelnode/testing";
import { eventuallyIdle, startNode } from "./support/node.js";

/** Writes `bytes` on a fresh TCP connection and resolves with what came back before it closed. */
function rawExchange(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.end(bytes));
    let answer = "";
    socket.on("data", (d) => (answer += d.toString("latin1")));
    socket.on("close", () => resolve(answer));
    socket.on("error", reject);
  });
}

const mask = Buffer.from([1, 2, 3, 4]);
const FRAMES: [string, Buffer, number][] = [
  ["an unmasked client frame", Buffer.from([0x81, 0x02, 0x7b, 0x7d]), 1002],
  ["a reserved opcode", Buffer.concat([Buffer.from([0x83, 0x80]), mask]), 1002],
  ["RSV bits without an extension", Buffer.concat([Buffer.from([0xc1, 0x80]), mask]), 1002],
  ["a fragmented control frame", Buffer.concat([Buffer.from([0x09, 0x80]), mask]), 1002],
  ["a continuation with nothing to continue", Buffer.concat([Buffer.from([0x80, 0x80]), mask]), 1002],
  ["a declared length of 2^63 − 1", Buffer.concat([Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), mask]), 1009],
  ["a declared length over maxPayloadBytes", Buffer.concat([Buffer.from([0x82, 0xfe, 0x10, 0x00]), mask]), 1009],
];

test("garbage instead of HTTP, and broken upgrades, get a 4xx answer; the node serves on", async (t) => {
  const { node, url, port } = await startNode();
  t.after(() => node.close());
  assert.match(await rawExchange(port, "\x00\x01\x02garbage\r\n\r\n"), /^HTTP\/1\.1 400/);
  assert.match(await rawExchange(port, "GET /elsewhere HTTP/1.1\r\nHost: localhost\r\n\r\n"), /^HTTP\/1\.1 426/);
  // A name other than localhost or an IP on a loopback address is the DNS rebinding guard's (403).
  assert.match(await rawExchange(port, "GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n"), /^HTTP\/1\.1 403/);
  // Request targets `new URL()` refuses (this one crashed the node once): answered, not fatal.
  for (const target of ["http://[", "//evil/v1/models", "*", "/v1/models/%E0%A4%A"]) {
    assert.match(await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`), /^HTTP\/1\.1 (426|404|400)/, target);
  }
  const badKey = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n";
  assert.match(await rawExchange(port, badKey), /^HTTP\/1\.1 400/);
  const badVersion = badKey.replace("Version: 13", "Version: 99").replace("Key: short", "Key: dGhlIHNhbXBsZSBub25jZQ==");
  assert.match(await rawExchange(port, badVersion), /^HTTP\/1\.1 400/);
  const client = await TestClient.connect(url);
  assert.equal((await client.call("heartbeat", { worker_id: "w" })).header.message_type, "heartbeat_ack");
  await client.close();
  await eventuallyIdle(node);
});

test("frames that break the WebSocket protocol close only their own connection (1002, or 1009 for absurd lengths)", async (t) => {
  const { node, url } = await startNode({ limits: { maxPayloadBytes: 2048, maxMessageBytes: 1024 } });
  t.after(() => node.close());
  const bystander = await TestClient.connect(url);
  for (const [what, bytes, code] of FRAMES) {
    const victim = await TestClient.connect(url);
    (victim.ws as unknown as { _socket: import("node:net").Socket })._socket.write(bytes);
    assert.equal((await victim.closed).code, code, what);
    const ack = await bystander.request({ header: header("heartbeat", what), worker_id: "w" });
    assert.equal(ack.header.correlation_id, what, `served on after ${what}`);
  }
  await bystander.close();
  await eventuallyIdle(node);
});
