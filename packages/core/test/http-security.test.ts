/**
 * The HTTP door against what a hostile web page or a slow client can do: cross-site bodies that
 * need no CORS preflight, DNS rebinding (a foreign Host on a loopback address), preflights from
 * origins nobody allowed, and headers trickled byte by byte.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { request } from "node:http";
import WebSocket from "ws";
import { definePlugin, defineRoute, z } from "../src/index.js";
import { createNode, type NodeOptions } from "../src/server.js";

let runs = 0;
const plugin = definePlugin({
  name: "echo-http",
  routes: [
    defineRoute({
      method: "POST",
      path: "/v1/echo",
      schema: z.object({ text: z.string().default("") }),
      handle: (req) => {
        runs++;
        return { json: { text: req.body.text } };
      },
    }),
  ],
});

async function serve(options: NodeOptions = {}, host = "127.0.0.1") {
  const node = await createNode({ logLevel: "silent", plugins: [plugin], ...options });
  const { port } = await node.listen(0, host);
  return { node, port };
}

/** A raw HTTP request, so that the Host header is whatever the test says (fetch does not let it be set). */
function raw(port: number, options: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: options.method ?? "GET", path: options.path, headers: options.headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

test("a body not declared as JSON is refused with 415 before the route runs: text/plain, form-encoded, none", async () => {
  const { node, port } = await serve();
  try {
    const before = runs;
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", undefined]) {
      const res = await raw(port, { method: "POST", path: "/v1/echo", headers: contentType ? { "content-type": contentType } : {}, body: '{"text":"hi"}' });
      assert.equal(res.status, 415, `content-type ${contentType}`);
      assert.equal(JSON.parse(res.body).error.code, "UNSUPPORTED_MEDIA_TYPE");
    }
    assert.equal(runs, before, "no refused request reached the route");
    for (const contentType of ["application/json", "application/json; charset=utf-8", "application/vnd.api+json"]) {
      const res = await raw(port, { method: "POST", path: "/v1/echo", headers: { "content-type": contentType }, body: '{"text":"hi"}' });
      assert.equal(res.status, 200, `content-type ${contentType}`);
      assert.deepEqual(JSON.parse(res.body), { text: "hi" });
    }
    // A request without a body needs no content type (it cannot carry anything cross-site).
    assert.equal((await raw(port, { method: "POST", path: "/v1/echo" })).status, 200);
  } finally {
    await node.close(1000);
  }
});

test("DNS rebinding: on a loopback address, a Host that names another site gets 403, HTTP and WebSocket alike", async () => {
  const { node, port } = await serve();
  try {
    const refused = await raw(port, { path: "/livez", headers: { host: `evil.example:${port}` } });
    assert.equal(refused.status, 403);
    assert.equal(JSON.parse(refused.body).error.code, "HOST_NOT_ALLOWED");
    assert.equal((await raw(port, { method: "POST", path: "/v1/echo", headers: { host: "evil.example", "content-type": "application/json" }, body: "{}" })).status, 403);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `app.localhost:${port}`, "10.1.2.3"]) {
      assert.equal((await raw(port, { path: "/livez", headers: { host } })).status, 200, host);
    }
    const upgrade = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, { headers: { host: "evil.example" } });
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => resolve(101));
      ws.on("error", () => undefined);
    });
    assert.equal(upgrade, 403);
  } finally {
    await node.close(1000);
  }
});

test("allowedHosts names the hosts a loopback node also answers to; [\"*\"] turns the check off", async () => {
  const named = await serve({ allowedHosts: ["modelnode.test"] });
  try {
    assert.equal((await raw(named.port, { path: "/livez", headers: { host: "modelnode.test" } })).status, 200);
    assert.equal((await raw(named.port, { path: "/livez", headers: { host: "other.test" } })).status, 403);
  } finally {
    await named.node.close(1000);
  }
  const open = await serve({ allowedHosts: ["*"] });
  try {
    assert.equal((await raw(open.port, { path: "/livez", headers: { host: "anything.test" } })).status, 200);
  } finally {
    await open.node.close(1000);
  }
});

test("a preflight from an origin nobody allowed gets no CORS permissions; an allowed origin gets them", async () => {
  const { node, port } = await serve();
  try {
    const foreign = await raw(port, { method: "OPTIONS", path: "/v1/echo", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
    assert.equal(foreign.status, 204);
    for (const name of ["access-control-allow-origin", "access-control-allow-methods", "access-control-allow-headers", "access-control-max-age"]) {
      assert.equal(foreign.headers[name], undefined, name);
    }
  } finally {
    await node.close(1000);
  }
  const allowed = await serve({ allowedOrigins: ["https://app.example"] });
  try {
    const res = await raw(allowed.port, { method: "OPTIONS", path: "/v1/echo", headers: { origin: "https://app.example", "access-control-request-method": "POST" } });
    assert.equal(res.headers["access-control-allow-origin"], "https://app.example");
    assert.equal(res.headers["access-control-allow-methods"], "POST");
  } finally {
    await allowed.node.close(1000);
  }
});

test("a client that trickles its headers is dropped after limits.headersTimeoutMs", async () => {
  const { node, port } = await serve({ limits: { headersTimeoutMs: 300 } });
  try {
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.write("GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        const drip = setInterval(() => socket.write("X-Slow: 1\r\n"), 50);
        socket.on("close", () => {
          clearInterval(drip);
          resolve(Date.now() - started);
        });
      });
      socket.on("error", () => undefined);
      setTimeout(() => reject(new Error("the slow client was never dropped")), 5000).unref();
    });
    assert.ok(closedAfter >= 250 && closedAfter < 3000, `dropped after ${closedAfter} ms`);
  } finally {
    await node.close(1000);
  }
});

test("timeouts are validated at startup: a headers timeout of 0 is refused, naming the field", async () => {
  await assert.rejects(createNode({ logLevel: "silent", limits: { headersTimeoutMs: 0 } }), /limits\.headersTimeoutMs/);
});
