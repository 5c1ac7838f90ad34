/**
 * One request lifecycle for both doors: an HTTP request meets the same admission rules as a
 * WebSocket message — a token bucket and an in-flight cap per client (a connection; over HTTP,
 * the client's address), draining — and the same guards and observers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { defineHandler, definePlugin, defineRoute, z, type RequestEnd } from "../src/index.js";
import { createNode, type NodeOptions } from "../src/server.js";
import { header, TestClient } from "./helpers.js";

/** A route and a message type that each hold their request until `release()`. */
function holdPlugin(ends: RequestEnd[] = []) {
  const waiting: (() => void)[] = [];
  const hold = () => new Promise<void>((resolve) => waiting.push(resolve));
  const plugin = definePlugin({
    name: "hold",
    register: (_c, host) => host.onRequestEnd((e) => void ends.push(e)),
    handlers: [
      defineHandler({
        type: "hold",
        schema: z.object({}),
        handle: async () => {
          await hold();
          return { held: true };
        },
      }),
    ],
    routes: [
      defineRoute({
        method: "POST",
        path: "/hold",
        handle: async () => {
          await hold();
          return { json: { held: true } };
        },
      }),
      defineRoute({ method: "GET", path: "/ping", handle: () => ({ json: { pong: true } }) }),
    ],
  });
  return { plugin, waiting: () => waiting.length, release: () => waiting.splice(0).forEach((r) => r()) };
}

async function serve(options: NodeOptions) {
  const node = await createNode({ logLevel: "silent", ...options });
  const { port } = await node.listen(0, "127.0.0.1");
  return { node, base: `http://127.0.0.1:${port}`, url: `ws://127.0.0.1:${port}` };
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test("HTTP: a client address at maxInFlightPerConnection gets 429 TOO_MANY_REQUESTS_IN_FLIGHT; its requests finish and the next is served", async () => {
  const held = holdPlugin();
  const { node, base } = await serve({ plugins: [held.plugin], limits: { maxInFlightPerConnection: 2 } });
  try {
    const first = [fetch(`${base}/hold`, { method: "POST" }), fetch(`${base}/hold`, { method: "POST" })];
    await eventually(() => held.waiting() === 2, "two requests to be held");
    const refused = await fetch(`${base}/hold`, { method: "POST" });
    assert.equal(refused.status, 429);
    const body = (await refused.json()) as { error: { code: string; message: string; details: { limit: number } } };
    assert.equal(body.error.code, "TOO_MANY_REQUESTS_IN_FLIGHT");
    assert.equal(body.error.details.limit, 2);
    assert.match(body.error.message, /per client address/);
    held.release();
    for (const response of await Promise.all(first)) assert.equal(response.status, 200);
    const again = await fetch(`${base}/ping`);
    assert.equal(again.status, 200, "the budget is given back when requests end");
    assert.equal(node.getStats().in_flight, 0);
  } finally {
    held.release();
    await node.close(1000);
  }
});

test("HTTP: the rate limit is per client address (a token bucket, burst then RATE_LIMITED 429), as for a connection", async () => {
  const held = holdPlugin();
  const { node, base, url } = await serve({ plugins: [held.plugin], limits: { messagesPerSecond: 1, messageBurst: 3 } });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await fetch(`${base}/ping`)).status);
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    const refused = (await (await fetch(`${base}/ping`)).json()) as { error: { code: string } };
    assert.equal(refused.error.code, "RATE_LIMITED");
    // A WebSocket connection is a client of its own, with its own bucket.
    const ws = await TestClient.connect(url);
    const reply = await ws.request({ header: header("unknown_type", "u-1") });
    assert.equal(reply.code, "UNKNOWN_MESSAGE_TYPE", "the connection still has tokens");
    ws.close();
    assert.equal(node.getStats().errors_by_code.RATE_LIMITED, 3);
  } finally {
    await node.close(1000);
  }
});

test("WebSocket: the same in-flight cap per connection, in the same words", async () => {
  const held = holdPlugin();
  const { node, url } = await serve({ plugins: [held.plugin], limits: { maxInFlightPerConnection: 1 } });
  try {
    const ws = await TestClient.connect(url);
    ws.send({ header: header("hold", "h-1") });
    await eventually(() => held.waiting() === 1, "the message to be held");
    const refused = await ws.request({ header: header("hold", "h-2") });
    assert.equal(refused.code, "TOO_MANY_REQUESTS_IN_FLIGHT");
    assert.match(refused.message, /per connection/);
    held.release();
    assert.equal((await ws.next()).held, true);
    ws.close();
  } finally {
    held.release();
    await node.close(1000);
  }
});

test("draining: new HTTP requests get 503 SHUTTING_DOWN while an open connection is still served and its request finishes", async () => {
  const ends: RequestEnd[] = [];
  const held = holdPlugin(ends);
  const { node, base, url } = await serve({ plugins: [held.plugin] });
  const ws = await TestClient.connect(url);
  ws.send({ header: header("hold", "h-1") });
  await eventually(() => held.waiting() === 1, "the message to be held");
  const closing = node.close(5000);
  const refused = await fetch(`${base}/ping`);
  assert.equal(refused.status, 503);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "SHUTTING_DOWN");
  const probe = await fetch(`${base}/readyz`);
  assert.equal(probe.status, 503);
  assert.equal(((await probe.json()) as { status: string }).status, "draining");
  held.release();
  assert.equal((await ws.next()).held, true);
  await closing;
  assert.deepEqual(
    ends.map((e) => [e.protocol, e.type, e.outcome]),
    [["standard", "hold", "ok"]],
    "the refused HTTP request was never admitted, so no request ended",
  );
});

test("stats: an unknown message type and a bad header are protocol requests but add no key to requests_by_type", async () => {
  const held = holdPlugin();
  const { node, url } = await serve({ plugins: [held.plugin] });
  try {
    const ws = await TestClient.connect(url);
    assert.equal((await ws.request({ header: header("nope", "n-1") })).code, "UNKNOWN_MESSAGE_TYPE");
    assert.equal((await ws.request({ header: { message_id: "x" } })).code, "VALIDATION_FAILED");
    ws.close();
    const stats = node.getStats();
    assert.equal(stats.protocol_requests, 2);
    assert.deepEqual(stats.requests_by_type, {});
    assert.equal(stats.errors_by_code.UNKNOWN_MESSAGE_TYPE, 1);
  } finally {
    await node.close(1000);
  }
});
