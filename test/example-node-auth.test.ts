// Authentication on the example node: off by default (field clients work), and when required,
// standard messages need a license key or license_hash while heartbeat and legacy stay open.
import { test } from "node:test";
import assert from "node:assert/strict";
import { hashLicenseKey } from "@modelnode/plugin-auth";
import { TestClient, header } from "@modelnode/testing";
import { startNode } from "./support/node.js";

const LICENSE_KEY = "e2e-license-key-0001";

test("auth off (default): inference is served without authenticating", async () => {
  const { node, url } = await startNode();
  const client = await TestClient.connect(url);
  const reply = await client.call("inference_request", { model_id: "tiny-gpt2", prompt: "Hi", max_tokens: 2 });
  assert.equal(reply.header.message_type, "inference_response");
  await client.close();
  await node.close();
});

test("auth required: UNAUTHENTICATED until authenticated; heartbeat and legacy stay open; license_hash works on a new connection", async () => {
  const { node, url } = await startNode({ auth: { required: true, keyHashes: [hashLicenseKey(LICENSE_KEY)], secret: "s".repeat(32) } });
  const client = await TestClient.connect(url);
  const refused = await client.call("inference_request", { model_id: "tiny-gpt2", prompt: "Hi", max_tokens: 2 }, "r-1");
  assert.equal(refused.code, "UNAUTHENTICATED");
  assert.equal(refused.header.correlation_id, "r-1");
  assert.equal((await client.call("list_models")).code, "UNAUTHENTICATED");
  assert.equal((await client.call("heartbeat", { worker_id: "w" })).header.message_type, "heartbeat_ack");
  const legacy = await client.request({ session_id: "auth-legacy", step: 0, input_tensors: { input_ids: "Hello" } });
  assert.equal(typeof legacy.output_tensors.next_token_id, "number");

  const auth = await client.call("authentication", { license_key: LICENSE_KEY });
  assert.equal(auth.header.message_type, "authentication_response");
  assert.equal(auth.authenticated, true);
  assert.equal(typeof auth.license_hash, "string");
  const served = await client.call("inference_request", { model_id: "tiny-gpt2", prompt: "Hi", max_tokens: 2 });
  assert.equal(served.header.message_type, "inference_response");
  await client.close();

  const other = await TestClient.connect(url);
  const withHash = await other.request({
    header: header("inference_request", "h-1", { license_hash: auth.license_hash }),
    model_id: "tiny-gpt2",
    prompt: "Hi",
    max_tokens: 2,
  });
  assert.equal(withHash.header.message_type, "inference_response");
  await other.close();
  await node.close();
});

test("auth required: repeated wrong license keys close the connection with 1008", async () => {
  const { node, url } = await startNode({
    auth: { required: true, keyHashes: [hashLicenseKey(LICENSE_KEY)], maxFailedAttempts: 2 },
  });
  const client = await TestClient.connect(url);
  const first = await client.call("authentication", { license_key: "wrong" });
  assert.equal(first.authenticated, false);
  client.send({ header: header("authentication"), license_key: "wrong again" });
  const { code } = await client.closed;
  assert.equal(code, 1008);
  // The node keeps serving others.
  const next = await TestClient.connect(url);
  assert.equal((await next.call("heartbeat", { worker_id: "w" })).header.message_type, "heartbeat_ack");
  await next.close();
  await node.close();
});
