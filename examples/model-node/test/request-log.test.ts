// What the CLI logs per request (src/request-log.ts): at info, failed requests only (and each
// generation, checked end to end in test/cli-logs.test.ts); requests that ended "ok" at debug.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defineRoute, definePlugin, errors } from "@modelnode/core";
import { createNode } from "@modelnode/core/server";
import { createCliLogger, type LineSink } from "../src/log.js";
import { requestLogPlugin } from "../src/request-log.js";

class Lines implements LineSink {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  entries(msg: string): Record<string, unknown>[] {
    return this.lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === msg);
  }
}

const routes = definePlugin({
  name: "routes",
  routes: [
    defineRoute({ method: "GET", path: "/hello", handle: () => ({ json: { hello: "world" } }) }),
    defineRoute({
      method: "GET",
      path: "/refuse",
      handle: () => {
        throw errors.invalidRequest("Not today.");
      },
    }),
  ],
});

/** Calls /hello, /refuse and /health on a node logging at `level` with `requestLogPlugin(options)`; the `request done` lines. */
async function requestLines(level: string, options?: Parameters<typeof requestLogPlugin>[0]): Promise<Record<string, unknown>[]> {
  const lines = new Lines();
  const node = await createNode({ logger: createCliLogger({ level, format: "json", sink: lines }), plugins: [requestLogPlugin(options), routes] });
  try {
    const { port } = await node.listen(0, "127.0.0.1");
    assert.equal((await fetch(`http://127.0.0.1:${port}/hello`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/refuse`)).status, 400);
    assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
  } finally {
    await node.close();
  }
  const done = lines.entries("request done");
  for (const entry of done) assert.ok(typeof entry.ms === "number" && entry.ms >= 0);
  return done.map(({ level, plugin, protocol, type, outcome }) => ({ level, plugin, protocol, type, outcome }));
}

test("requestLogPlugin at info: a failed request logs one info line (type, outcome, duration); one that ended ok logs nothing", async () => {
  assert.deepEqual(await requestLines("info"), [{ level: 30, plugin: "request-log", protocol: "http", type: "GET /refuse", outcome: "INVALID_REQUEST" }]);
});

test("requestLogPlugin at debug: every request has its line (ok ones at debug); operator endpoints are not requests", async () => {
  assert.deepEqual(await requestLines("debug"), [
    { level: 20, plugin: "request-log", protocol: "http", type: "GET /hello", outcome: "ok" },
    { level: 30, plugin: "request-log", protocol: "http", type: "GET /refuse", outcome: "INVALID_REQUEST" },
  ]);
});

test("requestLogPlugin({ level: 'info' }): requests that ended ok are logged at info too", async () => {
  assert.deepEqual(await requestLines("info", { level: "info" }), [
    { level: 30, plugin: "request-log", protocol: "http", type: "GET /hello", outcome: "ok" },
    { level: 30, plugin: "request-log", protocol: "http", type: "GET /refuse", outcome: "INVALID_REQUEST" },
  ]);
});
