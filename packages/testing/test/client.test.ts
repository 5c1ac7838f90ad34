import { test } from "node:test";
import assert from "node:assert/strict";
import { definePlugin, MessageHandler, reply, z } from "@modelnode/core";
import { startTestNode, TestClient, upgradeOutcome } from "../src/index.js";

@MessageHandler("tick", { schema: z.object({ n: z.number().int().min(0).max(10) }) })
class Tick {
  async *handle(msg: { n: number }) {
    for (let i = 0; i < msg.n; i++) yield reply("tick_chunk", { i });
    yield { done: msg.n };
  }
}

test("a test node on a free port, and a client that reads replies, streams and closes", async () => {
  const { node, url } = await startTestNode({ plugins: [definePlugin({ name: "tick", handlers: [Tick] })] });
  const client = await TestClient.connect(url);
  const { chunks, final } = await (client.send({ header: { message_id: "t-1", message_type: "tick", protocol_version: "2.0", timestamp: "2024-01-01T00:00:00Z" }, n: 3 }), client.untilFinal("tick_chunk"));
  assert.deepEqual(chunks.map((c) => c.i), [0, 1, 2]);
  assert.equal(final.done, 3);
  const bad = await client.call("tick", { n: "3" });
  assert.equal(bad.code, "VALIDATION_FAILED");
  const raw = await client.request("not json");
  assert.equal(raw.code, "INVALID_JSON");
  assert.equal(client.received.length, 6);
  assert.equal((await client.close()).code, 1005);
  await node.close();
  assert.notEqual(await upgradeOutcome(url).catch(() => "refused"), "open");
});
