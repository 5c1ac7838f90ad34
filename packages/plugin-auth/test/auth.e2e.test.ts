/** Auth over a real socket: the guard, the authentication exchange, license_hash reuse, closing, throttling. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { authPlugin, hashLicenseKey, type AuthOptions } from "../src/index.js";
import { authentication, header, inference, startNode, testHandlersPlugin, TestClient } from "./helpers.js";

const KEY = "lk-0f7c2a9e4b6d8e1f3a5c7e9b1d3f5a7c";
const fast = { failureDelayMs: 0 }; // the growing delay is unit-tested; keep e2e tests quick

async function withNode(options: Partial<AuthOptions>, body: (url: string, node: any) => Promise<void>) {
  const { node, url } = await startNode({
    plugins: [authPlugin({ keyHashes: [hashLicenseKey(KEY)], ...fast, ...options }), testHandlersPlugin()],
  });
  try {
    await body(url, node);
  } finally {
    await node.close();
  }
}

test("auth required: inference gets UNAUTHENTICATED, heartbeat passes, the right key opens the door", async () => {
  await withNode({}, async (url, node) => {
    const client = await TestClient.connect(url, { checkReplies: node });
    const request = inference();
    const refused = await client.request(request);
    assert.equal(refused.header.message_type, "error");
    assert.equal(refused.header.correlation_id, request.header.message_id);
    assert.equal(refused.code, "UNAUTHENTICATED");
    assert.match(refused.message, /authentication/);

    const ack = await client.request({ header: header("heartbeat"), worker_id: "w1" });
    assert.equal(ack.header.message_type, "heartbeat_ack");

    const auth = authentication(KEY);
    const ok = await client.request(auth);
    assert.equal(ok.header.message_type, "authentication_response");
    assert.equal(ok.header.correlation_id, auth.header.message_id);
    assert.equal(ok.authenticated, true);
    assert.match(ok.license_hash, /^lh1\./);
    assert.notEqual(ok.license_hash, hashLicenseKey(KEY));

    const served = await client.request(inference());
    assert.equal(served.header.message_type, "inference_request_response");
    assert.equal(served.text, "echo: hi");
    client.close();
  });
});

test("a wrong key: authenticated false with attempts left; a bad license_key is VALIDATION_FAILED", async () => {
  await withNode({}, async (url, node) => {
    const client = await TestClient.connect(url, { checkReplies: node });
    const wrong = await client.request(authentication("not-the-key"));
    assert.equal(wrong.header.message_type, "authentication_response");
    assert.equal(wrong.authenticated, false);
    assert.equal(wrong.license_hash, undefined);
    assert.equal(wrong.attempts_remaining, 4);
    assert.equal((await client.request(inference())).code, "UNAUTHENTICATED");

    for (const bad of [undefined, "", 12, "k".repeat(1025)]) {
      const invalid = await client.request(authentication(bad));
      assert.equal(invalid.code, "VALIDATION_FAILED");
      assert.equal(invalid.details.issues[0].path, "license_key");
    }
    // Validation failures are not guesses: still 4 left.
    assert.equal((await client.request(authentication("nope"))).attempts_remaining, 3);
    client.close();
  });
});

test("five failed attempts close the connection with 1008, after the fifth reply", async () => {
  await withNode({}, async (url, node) => {
    const client = await TestClient.connect(url, { checkReplies: node });
    for (let i = 1; i <= 5; i++) {
      const reply = await client.request(authentication(`guess-${i}`));
      assert.equal(reply.authenticated, false);
      assert.equal(reply.attempts_remaining, 5 - i);
    }
    const { code } = await client.closed;
    assert.equal(code, 1008);
    // Other connections are unaffected.
    const other = await TestClient.connect(url, { checkReplies: node });
    assert.equal((await other.request(authentication(KEY))).authenticated, true);
    other.close();
  });
});

test("a license_hash in the header authenticates that message on a new connection; tampered ones fail", async () => {
  await withNode({ maxFailedAttempts: 2 }, async (url, node) => {
    const first = await TestClient.connect(url, { checkReplies: node });
    const { license_hash } = await first.request(authentication(KEY));
    first.close();

    const second = await TestClient.connect(url, { checkReplies: node });
    const served = await second.request(inference({ license_hash }));
    assert.equal(served.text, "echo: hi");
    // Only that message: the connection itself has not authenticated.
    assert.equal((await second.request(inference())).code, "UNAUTHENTICATED");

    const last = license_hash.at(-1) === "A" ? "B" : "A";
    const tampered = await second.request(inference({ license_hash: license_hash.slice(0, -1) + last }));
    assert.equal(tampered.code, "UNAUTHENTICATED");
    assert.match(tampered.message, /license_hash/);
    assert.ok(!tampered.message.includes(license_hash.slice(4, 20)));
    // A bad header hash counts as a failed attempt: the second one closes the connection.
    assert.equal((await second.request(inference({ license_hash: "lh1.forged" }))).code, "UNAUTHENTICATED");
    assert.equal((await second.closed).code, 1008);
  });
});

test("a license_hash from another node (another secret) is refused", async () => {
  let foreign = "";
  await withNode({}, async (url, node) => {
    const client = await TestClient.connect(url, { checkReplies: node });
    foreign = (await client.request(authentication(KEY))).license_hash;
    client.close();
  });
  await withNode({}, async (url, node) => {
    const client = await TestClient.connect(url, { checkReplies: node });
    assert.equal((await client.request(inference({ license_hash: foreign }))).code, "UNAUTHENTICATED");
    client.close();
  });
  // With a shared configured secret the hash survives restarts and works across nodes.
  const secret = "0123456789abcdef0123456789abcdef-shared";
  let shared = "";
  await withNode({ secret }, async (url, node) => {
    const client = await TestClient.connect(url, { checkReplies: node });
    shared = (await client.request(authentication(KEY))).license_hash;
    client.close();
  });
  await withNode({ secret }, async (url, node) => {
    const client = await TestClient.connect(url, { checkReplies: node });
    assert.equal((await client.request(inference({ license_hash: shared }))).text, "echo: hi");
    client.close();
  });
});

test("legacy messages are served by default, refused legacy-shaped when not exempt", async () => {
  const legacy = { session_id: "s-1", step: 0, input_tensors: { input_ids: [1, 2] } };
  await withNode({}, async (url, node) => {
    const client = await TestClient.connect(url, { checkReplies: node });
    assert.deepEqual(await client.request(legacy), { session_id: "s-1", step: 0, output_tensors: { next_token_id: 1 } });
    client.close();
  });
  await withNode({ exemptLegacy: false }, async (url, node) => {
    const client = await TestClient.connect(url, { checkReplies: node });
    const refused = await client.request(legacy);
    assert.equal(refused.session_id, "s-1");
    assert.equal(refused.step, 0);
    assert.equal(refused.error.code, "UNAUTHENTICATED");
    assert.equal(refused.header, undefined);
    // Authenticating the connection with a standard message lets its legacy messages through.
    assert.equal((await client.request(authentication(KEY))).authenticated, true);
    assert.equal((await client.request(legacy)).output_tensors.next_token_id, 1);
    client.close();
  });
});

test("required: false serves everything; authentication still works", async () => {
  await withNode({ required: false, exemptLegacy: false }, async (url, node) => {
    const client = await TestClient.connect(url, { checkReplies: node });
    assert.equal((await client.request(inference())).text, "echo: hi");
    assert.equal((await client.request({ session_id: "s", step: 0 })).session_id, "s");
    assert.equal((await client.request(inference({ license_hash: "abc123" }))).text, "echo: hi");
    assert.equal((await client.request(authentication(KEY))).authenticated, true);
    assert.equal(node.getStats().auth.required, false);
    client.close();
  });
});

test("failures from one address are limited across connections (RATE_LIMITED with retry_after_ms)", async () => {
  await withNode({ addressFailureLimit: 2, addressFailureWindowMs: 60_000 }, async (url, node) => {
    const a = await TestClient.connect(url, { checkReplies: node });
    assert.equal((await a.request(authentication("guess-1"))).authenticated, false);
    a.close();
    const b = await TestClient.connect(url, { checkReplies: node });
    assert.equal((await b.request(authentication("guess-2"))).authenticated, false);
    const limited = await b.request(authentication(KEY));
    assert.equal(limited.header.message_type, "error");
    assert.equal(limited.code, "RATE_LIMITED");
    assert.ok(limited.details.retry_after_ms > 0 && limited.details.retry_after_ms <= 60_000);
    const stats = node.getStats().auth;
    assert.equal(stats.failed_attempts, 2);
    assert.equal(stats.rate_limited_attempts, 1);
    assert.equal(stats.successful_attempts, 0);
    b.close();
  });
});

test("parallel attempts cannot exceed maxFailedAttempts", async () => {
  await withNode({ maxFailedAttempts: 3 }, async (url, node) => {
    const client = await TestClient.connect(url, { checkReplies: node });
    // Ten guesses sent at once; the correct key is last.
    for (let i = 0; i < 9; i++) client.ws.send(JSON.stringify(authentication(`guess-${i}`)));
    client.ws.send(JSON.stringify(authentication(KEY)));
    assert.equal((await client.closed).code, 1008);
    // Replies that were still waiting when the socket closed are lost; none may be a success.
    const replies = client.received;
    assert.ok(replies.length >= 1);
    assert.ok(replies.every((r) => r.authenticated === false), "the key sent after the limit was never accepted");
    assert.equal(node.getStats().auth.failed_attempts, 3);
    assert.equal(node.getStats().auth.closed_connections, 1);
  });
});
