/** The custom server over a real socket: the echo type, heartbeat, and nothing else. */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { ModelNode } from "@modelnode/core/server";
import { createCustomServer } from "../src/index.js";
import { header, TestClient } from "@modelnode/testing";

let node: ModelNode;
let client: TestClient;

before(async () => {
  node = await createCustomServer({ nodeId: "custom-1", logLevel: "silent" });
  const { port } = await node.listen(0, "127.0.0.1");
  client = await TestClient.connect(`ws://127.0.0.1:${port}`, { checkReplies: node });
});

after(async () => {
  client.close();
  await node.close();
});

test("echo answers echo_response, correlated", async () => {
  const reply = await client.request({ header: header("echo", "e-1"), text: "hello model node" });
  assert.equal(reply.header.message_type, "echo_response");
  assert.equal(reply.header.correlation_id, "e-1");
  assert.equal(reply.text, "hello model node");
  assert.equal(reply.characters, 16);
  const loud = await client.request({ header: header("echo"), text: "héllo 🌍", uppercase: true });
  assert.equal(loud.text, "HÉLLO 🌍");
  assert.equal(loud.characters, 7);
});

test("with stream: true each word comes as an echo_chunk, then the final reply", async () => {
  client.ws.send(JSON.stringify({ header: header("echo", "e-2"), text: "one two  three", stream: true }));
  const frames = [await client.next(), await client.next(), await client.next(), await client.next()];
  assert.deepEqual(
    frames.map((f) => [f.header.message_type, f.header.correlation_id, f.text]),
    [
      ["echo_chunk", "e-2", "one"],
      ["echo_chunk", "e-2", "two"],
      ["echo_chunk", "e-2", "three"],
      ["echo_response", "e-2", "one two  three"],
    ],
  );
  assert.deepEqual(frames.slice(0, 3).map((f) => f.index), [0, 1, 2]);
});

test("bad echo payloads get VALIDATION_FAILED naming the field", async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{}, "text"],
    [{ text: 5 }, "text"],
    [{ text: "x".repeat(10_001) }, "text"],
    [{ text: "hi", stream: "yes" }, "stream"],
  ];
  for (const [payload, field] of cases) {
    const reply = await client.request({ header: header("echo", "bad"), ...payload });
    assert.equal(reply.code, "VALIDATION_FAILED");
    assert.equal(reply.header.correlation_id, "bad");
    assert.equal(reply.details.issues[0].path, field);
  }
});

test("heartbeat is served by the composed plugin", async () => {
  const ack = await client.request({ header: header("heartbeat", "hb"), worker_id: "w-1" });
  assert.equal(ack.header.message_type, "heartbeat_ack");
  assert.equal(ack.header.correlation_id, "hb");
  assert.equal(ack.node_id, "custom-1");
  assert.equal(ack.status, "healthy");
  assert.deepEqual(ack.models, []);
});

test("only the chosen plugins are served: no inference, no legacy", async () => {
  const unknown = await client.request({ header: header("inference_request"), model_id: "m", prompt: "p" });
  assert.equal(unknown.code, "UNKNOWN_MESSAGE_TYPE");
  assert.deepEqual([...unknown.details.supported].sort(), ["echo", "heartbeat"]);
  const legacy = await client.request({ session_id: "s", step: 0 });
  assert.equal(legacy.error.code, "UNRECOGNIZED_MESSAGE");
});

test("echo's maxChars option reaches its schema: each server enforces its own", async () => {
  const strict = await createCustomServer({ logLevel: "silent", echo: { maxChars: 4 } });
  const { port } = await strict.listen(0, "127.0.0.1");
  const c = await TestClient.connect(`ws://127.0.0.1:${port}`, { checkReplies: strict });
  const refused = await c.request({ header: header("echo"), text: "too long" });
  assert.equal(refused.code, "VALIDATION_FAILED");
  assert.equal(refused.details.issues[0].path, "text");
  assert.equal((await c.request({ header: header("echo"), text: "ok" })).text, "ok");
  c.close();
  await strict.close();
  // On the shared server (default 10 000), the same text passes.
  assert.equal((await client.request({ header: header("echo"), text: "too long" })).text, "too long");
});

test("a bad echo option fails at composition, naming the field", async () => {
  await assert.rejects(createCustomServer({ logLevel: "silent", echo: { maxChars: 0 } }), /maxChars/);
});
