// @modelnode/client's browser entry in a real browser (Debian's chromium, driven by
// playwright-core): the compiled modules of packages/client/dist/src, served as they are (no
// bundler, no import map), talk to the example node with the browser's own WebSocket —
// streaming, awaiting, cancel, typed errors, a legacy step, and a reconnect after the node
// restarts on the same port.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import type { ModelNode } from "@modelnode/core/server";
import { createModelNode } from "@modelnode/example-model-node";
import { startNode, type RunningNode } from "./support/node.js";
import { REPO_ROOT, TINY_MODEL_DIR } from "./support/paths.js";

const CHROMIUM = "/usr/bin/chromium";
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)`;
const CLIENT_DIST = join(REPO_ROOT, "packages", "client", "dist", "src");

let browser: Browser | undefined;
let server: Server | undefined;
let origin = "";
let running: RunningNode | undefined;
let restarted: ModelNode | undefined;

/** The page's origin: an empty page at /, and the client's compiled modules at /client/<name>.js. */
async function serveClient(): Promise<void> {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end("<!doctype html><title>client</title>");
      return;
    }
    const match = /^\/client\/([a-z-]+\.js)$/.exec(path);
    const file = match && join(CLIENT_DIST, match[1]);
    if (!file || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

before(async () => {
  if (skip) return;
  await serveClient();
  running = await startNode({ limits: { maxTokens: 1000 }, shutdownTimeoutMs: 0 });
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

after(async () => {
  await browser?.close();
  await running?.node.close();
  await restarted?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
});

test("the browser entry, loaded as compiled, streams, awaits, cancels, steps and reports typed errors with the browser's WebSocket", { skip }, async () => {
  const page = await browser!.newPage();
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  const requested: string[] = [];
  page.on("request", (request) => requested.push(new URL(request.url()).pathname));
  await page.goto(`${origin}/`);

  const out = await page.evaluate(async (url) => {
    const entry = "/client/index.js";
    const { ModelNodeClient, ModelNodeError } = await import(entry);
    const states: string[] = [];
    const client = new ModelNodeClient(url, { model: "tiny-gpt2", reconnect: { initialDelayMs: 50, maxDelayMs: 300 } });
    client.on("statechange", (event: { state: string }) => states.push(event.state));

    const gen = client.generate({ prompt: "Once upon a time", max_tokens: 12 });
    const pieces: string[] = [];
    for await (const piece of gen) pieces.push(piece);
    const streamed = await gen;
    const awaited = await client.generate({ prompt: "Once upon a time", max_tokens: 12 });

    const controller = new AbortController();
    const long = client.generate({ prompt: "A long story:", max_tokens: 1000, signal: controller.signal });
    let seen = 0;
    for await (const _ of long) if (++seen === 2) controller.abort();
    const cancelled = await long;

    let error: { isModelNodeError: boolean; code: string; available: string[] } | undefined;
    try {
      await client.generate({ model: "no-such-model", prompt: "Hi" });
    } catch (e: any) {
      error = { isModelNodeError: e instanceof ModelNodeError, code: e.code, available: e.details.available };
    }
    const session = client.session();
    const step0 = await session.step("Hello");
    const step1 = await session.step([step0.next_token_id]);
    const ack = await client.heartbeat("browser");
    await client.close();
    return {
      pieces,
      streamed,
      awaited,
      cancelled,
      error,
      steps: [step0.sequence_length, step1.sequence_length, session.nextStep],
      ack: { worker_id: ack.worker_id, status: ack.status },
      states,
      userAgent: (globalThis as any).navigator.userAgent as string,
    };
  }, running!.url);

  assert.deepEqual(problems, []);
  assert.match(out.userAgent, /Chrome/);
  assert.ok(out.pieces.length > 1);
  assert.equal(out.pieces.join(""), out.streamed.text);
  assert.equal(out.streamed.finishReason, "length");
  assert.equal(out.awaited.text, out.streamed.text);
  assert.equal(out.cancelled.finishReason, "cancelled");
  assert.ok(out.cancelled.usage.completion_tokens < 1000);
  assert.deepEqual(out.error, { isModelNodeError: true, code: "MODEL_NOT_FOUND", available: ["tiny-gpt2"] });
  assert.equal(out.steps[1], out.steps[0] + 1);
  assert.equal(out.steps[2], 2);
  assert.deepEqual(out.ack, { worker_id: "browser", status: "healthy" });
  assert.deepEqual(out.states, ["connecting", "open", "closed"]);
  // Only the client's own modules were fetched: nothing of ws, of core or of the plugins.
  const modules = requested.filter((p) => p.startsWith("/client/")).sort();
  assert.ok(modules.includes("/client/index.js"));
  assert.ok(!modules.includes("/client/node.js"), `fetched: ${modules.join(", ")}`);
  await page.close();
});

test("in the browser, the client reconnects by itself when the node restarts on the same port", { skip }, async () => {
  const page = await browser!.newPage();
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  await page.goto(`${origin}/`);
  await page.evaluate(async (url) => {
    const entry = "/client/index.js";
    const { ModelNodeClient } = await import(entry);
    const w = globalThis as any;
    w.states = [];
    w.client = new ModelNodeClient(url, { model: "tiny-gpt2", reconnect: { initialDelayMs: 50, maxDelayMs: 300 } });
    w.client.on("statechange", (event: { state: string }) => w.states.push(event.state));
    await w.client.connect();
  }, running!.url);

  const { port } = running!;
  await running!.node.close();
  await page.waitForFunction(() => (globalThis as any).client.state === "reconnecting");
  restarted = await createModelNode({ logLevel: "silent", models: { "tiny-gpt2": TINY_MODEL_DIR } });
  await restarted.listen(port, "127.0.0.1");

  const out = await page.evaluate(async () => {
    const w = globalThis as any;
    const result = await w.client.generate({ prompt: "Hi", max_tokens: 3 });
    const states = [...w.states];
    await w.client.close();
    return { result, states };
  });
  assert.deepEqual(problems, []);
  assert.equal(out.result.usage.completion_tokens, 3);
  assert.deepEqual(out.states.slice(0, 3), ["connecting", "open", "reconnecting"]);
  assert.equal(out.states[out.states.length - 1], "open");
  await page.close();
});
