// Authentication on the example node: with auth required, no registered message type reaches
// its handler unauthenticated on any protocol path (text, binary, legacy unless exempted, the
// gradual-adoption processMessage path); brute force is slowed, capped per connection (1008)
// and per address (RATE_LIMITED).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { WebSocketServer } from "ws";
import { type ModelNode } from "@modelnode/core/server";
import { hashLicenseKey } from "@modelnode/plugin-auth";
import { TestClient, header } from "@modelnode/testing";
import { startNode } from "./support/node.js";

const KEY = "right-license-key-7f3a";
const AUTH = { required: true, keyHashes: [hashLicenseKey(KEY)] };

/** A valid message of each registered type (legacy as the field's format). */
const VALID: Record<string, () => unknown> = {
  heartbeat: () => ({ header: header("heartbeat"), worker_id: "w" }),
  authentication: () => ({ header: header("authentication"), license_key: "not-the-key" }),
  inference_request: () => ({ header: header("inference_request"), model_id: "tiny-gpt2", prompt: "Hi", max_tokens: 2 }),
  list_models: () => ({ header: header("list_models") }),
  inference_cancel: () => ({ header: header("inference_cancel"), target_message_id: "m-1" }),
  legacy: () => ({ session_id: "s", step: 0, input_tensors: { input_ids: "Hi" } }),
};

/** Counts calls of every handler's handle(): the proof that a refused message reached none. */
function countHandlerCalls(node: ModelNode): Map<string, number> {
  const calls = new Map<string, number>();
  for (const type of registeredTypes(node)) {
    const handler = (type === "legacy" ? node.registry.legacy : node.registry.get(type))!.instance;
    const handle = handler.handle.bind(handler);
    calls.set(type, 0);
    handler.handle = (msg, ctx) => {
      calls.set(type, calls.get(type)! + 1);
      return handle(msg, ctx);
    };
  }
  return calls;
}

/** Standard message types plus "legacy" for the legacy-format handler. */
const registeredTypes = (node: ModelNode) => [...node.registry.types(), ...(node.registry.legacy ? ["legacy"] : [])];

const codeOf = (reply: any) => reply.error?.code ?? reply.code;

test("auth required: every registered type but the exempt ones is UNAUTHENTICATED on every path, and its handler never runs", async (t) => {
  const { node, url } = await startNode({ auth: { ...AUTH, exemptLegacy: false } });
  t.after(() => node.close());
  const calls = countHandlerCalls(node);
  const types = registeredTypes(node);
  assert.deepEqual([...types].sort(), Object.keys(VALID).sort(), "every registered type is covered here");
  const exempt = new Set(["heartbeat", "authentication"]);

  // The gradual-adoption path: someone else's ws server handing frames to node.processMessage.
  const foreign = createServer();
  const wss = new WebSocketServer({ server: foreign });
  wss.on("connection", (ws) => ws.on("message", (data, isBinary) => void node.processMessage(ws, data, isBinary)));
  await new Promise<void>((resolve) => foreign.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise((resolve) => { wss.close(); foreign.close(resolve); }));
  const foreignUrl = `ws://127.0.0.1:${(foreign.address() as { port: number }).port}`;

  const paths: [string, string, boolean][] = [["text frames", url, false], ["binary frames", url, true], ["processMessage", foreignUrl, false]];
  for (const [path, target, binary] of paths) {
    const client = await TestClient.connect(target);
    for (const type of types.filter((x) => !exempt.has(x))) {
      client.send(JSON.stringify(VALID[type]()), { binary });
      const reply = await client.next();
      assert.equal(codeOf(reply), "UNAUTHENTICATED", `${type} over ${path}`);
      // A malformed message of that type is refused the same way: nothing about its schema leaks.
      client.send(JSON.stringify({ ...(VALID[type]() as object), model_id: 5, input_tensors: 5 }), { binary });
      assert.equal(codeOf(await client.next()), "UNAUTHENTICATED", `malformed ${type} over ${path}`);
      // An empty or forged license_hash does not pass either.
      if (type !== "legacy") {
        for (const forged of ["", "lh1.forged"]) {
          const message = VALID[type]() as { header: Record<string, unknown> };
          message.header.license_hash = forged;
          assert.equal(codeOf(await client.request(message)), "UNAUTHENTICATED", `${type} with license_hash ${JSON.stringify(forged)} over ${path}`);
        }
      }
    }
    await client.close();
  }
  for (const type of types.filter((x) => !exempt.has(x))) assert.equal(calls.get(type), 0, `${type} handler ran unauthenticated`);

  // Exempt types are served; after authenticating, everything is.
  const client = await TestClient.connect(url);
  assert.equal((await client.request(VALID.heartbeat())).header.message_type, "heartbeat_ack");
  const auth = await client.call("authentication", { license_key: KEY });
  assert.equal(auth.authenticated, true);
  for (const type of types.filter((x) => !exempt.has(x))) assert.notEqual(codeOf(await client.request(VALID[type]())), "UNAUTHENTICATED", type);
  // The license_hash authenticates single messages on another connection, without authenticating it.
  const other = await TestClient.connect(url);
  const withHash = VALID.list_models() as { header: Record<string, unknown> };
  withHash.header.license_hash = auth.license_hash;
  assert.equal((await other.request(withHash)).header.message_type, "list_models_response");
  assert.equal(codeOf(await other.request(VALID.list_models())), "UNAUTHENTICATED");
  await Promise.all([client.close(), other.close()]);
});

test("auth required with legacy exempt (the default): legacy steps are served, standard types are not", async (t) => {
  const { node, url } = await startNode({ auth: AUTH });
  t.after(() => node.close());
  const client = await TestClient.connect(url);
  assert.ok((await client.request(VALID.legacy())).output_tensors);
  assert.equal(codeOf(await client.request(VALID.inference_request())), "UNAUTHENTICATED");
  await client.close();
});

test("brute force: failures are answered ever later, a connection is closed (1008) after maxFailedAttempts, an address is RATE_LIMITED after 20", async (t) => {
  const { node, url } = await startNode({ auth: { ...AUTH, maxFailedAttempts: 3 } });
  t.after(() => node.close());
  const guess = (client: TestClient, key = "guess") => client.call("authentication", { license_key: key });

  const first = await TestClient.connect(url);
  const delays: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    const reply = await guess(first);
    delays.push(performance.now() - started);
    assert.equal(reply.authenticated, false);
    assert.equal(reply.attempts_remaining, 2 - i);
  }
  // The node waits 200 ms, then 400 ms, then 800 ms before answering (never less).
  assert.ok(delays[0] >= 190 && delays[1] >= 390 && delays[2] >= 790, `delays ${delays.map(Math.round)}`);
  assert.equal((await first.closed).code, 1008);

  // 3 + 6 × 3 failures from one address pass the 20 allowed per minute: the address is refused outright.
  const more = await Promise.all(Array.from({ length: 6 }, () => TestClient.connect(url)));
  await Promise.all(more.map(async (c) => { for (let i = 0; i < 3; i++) await guess(c); }));
  const late = await TestClient.connect(url);
  const limited = await guess(late, KEY);
  assert.equal(limited.code, "RATE_LIMITED", "even the right key, from a throttled address");
  assert.ok(limited.details.retry_after_ms > 0);
  const elsewhere = await TestClient.connect(url, { localAddress: "127.0.0.2" });
  assert.equal((await guess(elsewhere, KEY)).authenticated, true, "other addresses are unaffected");
  await Promise.all([late.close(), elsewhere.close()]);
  assert.ok((node.getStats().auth as any).rate_limited_attempts >= 1);
});
