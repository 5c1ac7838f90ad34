/** Plugins' HTTP routes on the node's port: same policy as messages, coded JSON errors, SSE. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, request as httpRequest } from "node:http";
import WebSocket from "ws";
import { defineRoute, definePlugin, errors, NODE_INFO, z, type RequestEnd } from "../src/index.js";
import { createNode, startNode } from "../src/server.js";

const ticks = { started: 0, finished: 0, cancelled: 0 };

const routesPlugin = (ends: RequestEnd[] = []) =>
  definePlugin({
    name: "routes",
    register: (_c, host) => {
      host.addGuard((incoming) => {
        if (incoming.protocol === "http" && incoming.http?.headers["x-deny"]) throw errors.unauthenticated("Denied by the test guard.");
      });
      host.onRequestEnd((e) => void ends.push(e));
    },
    routes: [
      defineRoute({ method: "GET", path: "/v1/hello", inject: { info: NODE_INFO }, handle: (_req, _ctx, { info }) => ({ json: { node: info.nodeId } }) }),
      defineRoute({
        method: "POST",
        path: "/v1/add",
        name: "add",
        schema: z.object({ a: z.number(), b: z.number() }),
        maxBodyBytes: 64,
        handle: (req) => ({ json: { sum: req.body.a + req.body.b } }),
      }),
      defineRoute({
        method: "POST",
        path: "/v1/ticks",
        schema: z.object({ n: z.int().min(0).max(10_000), ms: z.int().min(0).default(0) }),
        formatError: (error, status) => ({ error: { message: error.message, type: error.code, status } }),
        handle: (req, ctx) => ({
          end: "[DONE]",
          events: (async function* () {
            ticks.started++;
            try {
              for (let i = 0; i < req.body.n; i++) {
                if (ctx.signal.aborted) {
                  ticks.cancelled++;
                  return;
                }
                if (req.body.ms) await new Promise((r) => setTimeout(r, req.body.ms));
                yield { i };
              }
              ticks.finished++;
            } finally {
              if (ctx.signal.aborted && ticks.cancelled === 0) ticks.cancelled++;
            }
          })(),
        }),
      }),
    ],
  });

async function serve(options: Parameters<typeof createNode>[0] = {}) {
  const node = await createNode({ logLevel: "silent", ...options });
  const { port } = await node.listen(0, "127.0.0.1");
  return { node, base: `http://127.0.0.1:${port}` };
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });

test("a plugin's routes: JSON in and out, validation, coded errors with HTTP statuses", async () => {
  const ends: RequestEnd[] = [];
  const { node, base } = await serve({ nodeId: "n-http", plugins: [routesPlugin(ends)] });
  assert.deepEqual(await (await fetch(`${base}/v1/hello`)).json(), { node: "n-http" });
  assert.deepEqual(await (await post(`${base}/v1/add`, { a: 2, b: 3 })).json(), { sum: 5 });

  const invalid = await post(`${base}/v1/add`, { a: "2" });
  assert.equal(invalid.status, 400);
  const body = (await invalid.json()) as { error: { code: string; details: { issues: { path: string }[] } } };
  assert.equal(body.error.code, "VALIDATION_FAILED");
  assert.deepEqual(body.error.details.issues.map((i) => i.path), ["a", "b"]);

  const notJson = await post(`${base}/v1/add`, "{nope");
  assert.equal(notJson.status, 400);
  assert.equal(((await notJson.json()) as { error: { code: string } }).error.code, "INVALID_JSON");

  const big = await post(`${base}/v1/add`, { a: 1, b: 2, pad: "x".repeat(100) });
  assert.equal(big.status, 413);
  assert.equal(((await big.json()) as { error: { code: string } }).error.code, "PAYLOAD_TOO_LARGE");

  const wrongMethod = await fetch(`${base}/v1/add`);
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get("allow"), "POST");

  const denied = await fetch(`${base}/v1/hello`, { headers: { "x-deny": "1" } });
  assert.equal(denied.status, 401, "the node's guards run for HTTP routes too");

  assert.equal((await fetch(`${base}/elsewhere`)).status, 426, "paths without a route still say: this port speaks WebSocket");
  const stats = node.getStats();
  assert.equal(stats.http_requests, 6, "405s are refused before a route runs: not requests");
  assert.equal(stats.requests_by_type.add, 4);
  assert.equal(stats.total_requests, 0, "WebSocket message counts are untouched");
  assert.deepEqual(
    ends.map((e) => [e.protocol, e.type, e.outcome]),
    [
      ["http", "GET /v1/hello", "ok"],
      ["http", "add", "ok"],
      ["http", "add", "VALIDATION_FAILED"],
      ["http", "add", "INVALID_JSON"],
      ["http", "add", "PAYLOAD_TOO_LARGE"],
      ["http", "GET /v1/hello", "UNAUTHENTICATED"],
    ],
  );
  await node.close();
});

test("server-sent events: data lines, the end marker, and a client that disconnects cancels the stream", async () => {
  const { node, base } = await serve({ plugins: [routesPlugin()] });
  const res = await post(`${base}/v1/ticks`, { n: 3 });
  assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assert.equal(await res.text(), 'data: {"i":0}\n\ndata: {"i":1}\n\ndata: {"i":2}\n\ndata: [DONE]\n\n');

  const before = { ...ticks };
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest(`${base}/v1/ticks`, { method: "POST", headers: { "content-type": "application/json" } }, (response) => {
      response.once("data", () => {
        req.destroy(); // the client goes away after the first event
        resolve();
      });
    });
    req.on("error", () => {});
    req.once("error", reject);
    req.end(JSON.stringify({ n: 10_000, ms: 5 }));
  });
  const deadline = Date.now() + 5000;
  while (ticks.cancelled === before.cancelled && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(ticks.cancelled, before.cancelled + 1, "the generator saw its signal");
  assert.equal(ticks.finished, before.finished);
  assert.equal(node.getStats().in_flight, 0);

  const refused = await post(`${base}/v1/ticks`, { n: -1 });
  assert.equal(refused.status, 400);
  assert.equal(((await refused.json()) as { error: { type: string } }).error.type, "VALIDATION_FAILED", "the route's own error shape");
  await node.close();
});

test("origins, rate limits and draining apply to routes; probes stay open", async () => {
  const { node, base } = await serve({ allowedOrigins: ["https://app.example"], limits: { messagesPerSecond: 1, messageBurst: 2 }, plugins: [routesPlugin()] });
  assert.equal((await fetch(`${base}/v1/hello`, { headers: { origin: "https://evil.example" } })).status, 403);
  const allowed = await fetch(`${base}/v1/hello`, { headers: { origin: "https://app.example" } });
  assert.equal(allowed.status, 200);
  assert.equal(allowed.headers.get("access-control-allow-origin"), "https://app.example");
  const preflight = await fetch(`${base}/v1/add`, { method: "OPTIONS", headers: { origin: "https://app.example" } });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-methods"), "POST");
  // The burst (2) is spent: the next guarded request is rate limited; the probes are not.
  await fetch(`${base}/v1/hello`);
  assert.equal((await fetch(`${base}/v1/hello`)).status, 429);
  for (let i = 0; i < 5; i++) assert.equal((await fetch(`${base}/livez`)).status, 200);
  assert.equal((await fetch(`${base}/readyz`)).status, 200);

  const closing = node.close(2000);
  const readyz = await fetch(`${base}/readyz`).catch(() => undefined);
  if (readyz) assert.deepEqual([readyz.status, await readyz.json()], [503, { status: "draining" }]);
  await closing;
});

test("startNode binds the port before composing: a busy port fails at once, probes say starting", async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
  const busy = (blocker.address() as { port: number }).port;
  let registered = false;
  const slow = definePlugin({ name: "slow", register: async () => void (registered = true) });
  await assert.rejects(startNode({ logLevel: "silent", port: busy, host: "127.0.0.1", plugins: [slow] }), { code: "EADDRINUSE" });
  assert.equal(registered, false, "nothing was composed (no model loaded) for a port in use");
  blocker.close();

  let release!: () => void;
  const loading = new Promise<void>((r) => (release = r));
  let seen: { livez: number; readyz: number; body: unknown; upgrade: number } | undefined;
  const loader = definePlugin({ name: "loader", register: () => loading });
  const { node, port } = await startNode({ logLevel: "silent", port: 0, host: "127.0.0.1", plugins: [loader, routesPlugin()] }, ({ port: p }) => {
    void (async () => {
      const livez = await fetch(`http://127.0.0.1:${p}/livez`);
      const readyz = await fetch(`http://127.0.0.1:${p}/readyz`);
      const upgrade = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${p}`);
        ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        ws.once("error", () => resolve(-1));
        ws.once("open", () => resolve(101));
      });
      seen = { livez: livez.status, readyz: readyz.status, body: await readyz.json(), upgrade };
      release();
    })();
  });
  assert.deepEqual(seen, { livez: 200, readyz: 503, body: { status: "starting" }, upgrade: 503 });
  assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
  assert.equal((await fetch(`http://127.0.0.1:${port}/v1/hello`)).status, 200);
  await node.close();
});

test("path parameters, the route's error shape on 405/403, and a stream that fails before its first event gets a status", async () => {
  const shape = (error: { code: string; message: string }, status: number) => ({ error: { type: error.code, message: error.message, status } });
  const plugin = definePlugin({
    name: "params",
    routes: [
      defineRoute({ method: "GET", path: "/v1/things/:id", formatError: shape, handle: (req) => ({ json: { id: req.params.id } }) }),
      defineRoute({
        method: "POST",
        path: "/v1/fails",
        formatError: shape,
        handle: () => ({
          events: (async function* () {
            throw errors.modelNotFound("nope", ["a"]);
          })(),
        }),
      }),
    ],
  });
  const { node, base } = await serve({ allowedOrigins: ["https://ok.example"], plugins: [plugin] });
  assert.deepEqual(await (await fetch(`${base}/v1/things/a%2Fb`)).json(), { id: "a/b" });
  assert.equal((await fetch(`${base}/v1/things/`)).status, 426, "an empty segment is not a parameter");
  assert.equal((await fetch(`${base}/v1/things/a/b`)).status, 426);
  const wrong = await fetch(`${base}/v1/things/x`, { method: "DELETE" });
  assert.equal(wrong.status, 405);
  assert.equal(((await wrong.json()) as { error: { type: string } }).error.type, "METHOD_NOT_ALLOWED", "in the route's own error shape");
  const foreign = await fetch(`${base}/v1/things/x`, { headers: { origin: "https://evil.example" } });
  assert.deepEqual(await foreign.json(), { error: { type: "ORIGIN_NOT_ALLOWED", message: "Requests from this origin are not allowed.", status: 403 } });
  const failed = await fetch(`${base}/v1/fails`, { method: "POST" });
  assert.equal(failed.status, 404);
  assert.equal(failed.headers.get("content-type"), "application/json");
  assert.equal(((await failed.json()) as { error: { type: string } }).error.type, "MODEL_NOT_FOUND");
  await node.close();
});

test("NDJSON streams (one JSON line per item, the error as the last line) and a `/prefix/*` fallback under exact and :param routes", async () => {
  const shape = (error: { code: string; message: string }) => ({ error: error.message });
  const lines = (fail: boolean) =>
    (async function* () {
      yield { n: 1 };
      yield "two";
      if (fail) throw errors.invalidRequest("broken after the headers");
    })();
  const plugin = definePlugin({
    name: "prefixed",
    routes: [
      defineRoute({ method: "GET", path: "/api/lines", formatError: shape, handle: (req) => ({ framing: "ndjson", events: lines(req.query.has("fail")) }) }),
      defineRoute({ method: "GET", path: "/api/items/:id", formatError: shape, handle: (req) => ({ json: { id: req.params.id } }) }),
      defineRoute({ method: "GET", path: "/api/deep/*", formatError: shape, handle: (req) => ({ json: { deep: req.params["*"] } }) }),
      ...(["GET", "POST"] as const).map((method) =>
        defineRoute({ method, path: "/api/*", formatError: shape, handle: (req) => { throw errors.notFound(`unknown ${req.method} /api/${req.params["*"]}`); } }),
      ),
    ],
  });
  const { node, base } = await serve({ plugins: [plugin] });
  const ok = await fetch(`${base}/api/lines`);
  assert.equal(ok.headers.get("content-type"), "application/x-ndjson");
  assert.equal(await ok.text(), '{"n":1}\ntwo\n');
  assert.equal(await (await fetch(`${base}/api/lines?fail`)).text(), '{"n":1}\ntwo\n{"error":"broken after the headers"}\n');
  assert.deepEqual(await (await fetch(`${base}/api/items/7`)).json(), { id: "7" }, "a :param route wins over the fallback");
  assert.deepEqual(await (await fetch(`${base}/api/deep/a/b`)).json(), { deep: "a/b" }, "the longest prefix wins");
  const unknown = await fetch(`${base}/api/pull/x`, { method: "POST" });
  assert.equal(unknown.status, 404);
  assert.deepEqual(await unknown.json(), { error: "unknown POST /api/pull/x" });
  assert.equal((await fetch(`${base}/api/x`, { method: "DELETE" })).status, 405, "methods the fallback lacks");
  assert.equal((await fetch(`${base}/api/`)).status, 426, "the prefix alone is not under it");
  assert.equal((await fetch(`${base}/apix`)).status, 426);
  await node.close();
});

test("named server-sent events: eventName's name before each object event's data, a mid-stream error's too; strings stay unnamed", async () => {
  const plugin = definePlugin({
    name: "named",
    routes: [
      defineRoute({
        method: "POST",
        path: "/v1/named",
        formatError: (error) => ({ type: "error", error: { message: error.message } }),
        handle: () => ({
          eventName: (event: object) => (event as { type?: string }).type,
          events: (async function* () {
            yield { type: "start" };
            yield { untyped: true };
            yield "raw";
            throw errors.busy("Too busy now.");
          })(),
        }),
      }),
    ],
  });
  const { node, base } = await serve({ plugins: [plugin] });
  const res = await fetch(`${base}/v1/named`, { method: "POST" });
  assert.equal(res.status, 200);
  assert.equal(
    await res.text(),
    'event: start\ndata: {"type":"start"}\n\ndata: {"untyped":true}\n\ndata: raw\n\nevent: error\ndata: {"type":"error","error":{"message":"Too busy now."}}\n\n',
  );
  await node.close();
});
