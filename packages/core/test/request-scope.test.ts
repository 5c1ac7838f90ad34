/**
 * host.scopeRequests: a scope runs around each admitted request's walk, both doors, so that a
 * plugin can hold per-request async context (tracing) from the start to the observers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import { defineHandler, definePlugin, defineRoute, z, type RequestStart } from "../src/index.js";
import { createNode } from "../src/server.js";
import { header, TestClient } from "./helpers.js";

test("scopes nest in the order added around every admitted request; guards, the handler and the end observers run inside", async () => {
  const storage = new AsyncLocalStorage<string>();
  const order: string[] = [];
  const starts: RequestStart[] = [];
  const seen: { where: string; store: string | undefined }[] = [];
  const plugin = definePlugin({
    name: "scoped",
    register(_c, host) {
      host.scopeRequests((start, walk) => {
        order.push(`outer ${start.type}`);
        starts.push(start);
        return storage.run(`${start.protocol}:${start.type}`, walk);
      });
      host.scopeRequests((start, walk) => {
        order.push(`inner ${start.type}`);
        return walk();
      });
      host.addGuard((incoming) => void seen.push({ where: `guard ${incoming.type}`, store: storage.getStore() }));
      host.onRequestEnd((end) => void seen.push({ where: `end ${end.type} ${end.outcome}`, store: storage.getStore() }));
    },
    handlers: [
      defineHandler({
        type: "slow",
        schema: z.object({}),
        handle: async () => {
          await new Promise((r) => setTimeout(r, 5));
          seen.push({ where: "handler slow", store: storage.getStore() });
          return { done: true };
        },
      }),
    ],
    routes: [
      defineRoute({ method: "POST", path: "/echo", name: "echo", schema: z.object({ n: z.number() }), handle: (req) => ({ json: req.body }) }),
      defineRoute({ method: "GET", path: "/open", guarded: false, handle: () => ({ json: {} }) }),
    ],
  });
  const node = await createNode({ logLevel: "silent", plugins: [plugin] });
  const { port } = await node.listen(0, "127.0.0.1");
  const client = await TestClient.connect(`ws://127.0.0.1:${port}`);
  try {
    const reply = await client.request({ header: { ...header("slow", "s-1"), traceparent: "x" } });
    assert.equal(reply.done, true);
    const echo = await fetch(`http://127.0.0.1:${port}/echo`, { method: "POST", headers: { "content-type": "application/json", "x-trace": "t" }, body: '{"n":1}' });
    assert.deepEqual(await echo.json(), { n: 1 });
    const bad = await fetch(`http://127.0.0.1:${port}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
    assert.equal(bad.status, 400);
    // An operator route (unguarded) is not a request: no scope.
    assert.equal((await fetch(`http://127.0.0.1:${port}/open`)).status, 200);

    assert.deepEqual(order, ["outer slow", "inner slow", "outer echo", "inner echo", "outer echo", "inner echo"]);
    assert.equal(starts[0].protocol, "standard");
    assert.equal(starts[0].header?.traceparent, "x");
    assert.equal(starts[0].context.protocol, "standard");
    assert.equal(starts[1].http?.method, "POST");
    assert.equal(starts[1].http?.path, "/echo");
    assert.equal(starts[1].http?.headers["x-trace"], "t");
    assert.deepEqual(seen, [
      { where: "guard slow", store: "standard:slow" },
      { where: "handler slow", store: "standard:slow" },
      { where: "end slow ok", store: "standard:slow" },
      { where: "guard echo", store: "http:echo" },
      { where: "end echo ok", store: "http:echo" },
      // The body was not JSON: no guard ran, the end is still observed inside the scope.
      { where: "end echo INVALID_JSON", store: "http:echo" },
    ]);
  } finally {
    await client.close();
    await node.close();
  }
});
