// While the model generates, the node keeps answering: onnxruntime-node runs on the JS thread,
// so the pipeline must yield between runs (prefill chunks and decode steps) for heartbeats and
// other requests to be served before a long generation ends.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { ModelNode } from "@modelnode/core";
import { header, TestClient } from "@modelnode/testing";
import { startNode } from "./support/node.js";

let node: ModelNode;
let url: string;

before(async () => {
  ({ node, url } = await startNode({ limits: { maxTokens: 512 } }));
});
after(() => node.close());

test("heartbeats on another connection are answered while a long generation runs", async () => {
  const generating = await TestClient.connect(url);
  const monitoring = await TestClient.connect(url);
  const longPrompt = "The quick brown fox jumps over the lazy dog. ".repeat(40); // several prefill chunks
  generating.send({ header: header("inference_request", "long"), model_id: "tiny-gpt2", prompt: longPrompt, max_tokens: 500 });
  let done = false;
  const finished = generating.next(60_000).then((reply) => {
    done = true;
    return reply;
  });
  const acksDuring: string[] = [];
  for (let i = 0; i < 5; i++) {
    const ack = await monitoring.call("heartbeat", { worker_id: `w-${i}` });
    assert.equal(ack.header.message_type, "heartbeat_ack");
    if (!done) acksDuring.push(ack.worker_id);
  }
  const reply = await finished;
  assert.equal(reply.header.message_type, "inference_response");
  assert.equal(reply.usage.completion_tokens, 500);
  assert.ok(acksDuring.length >= 3, `only ${acksDuring.length} of 5 heartbeats were answered before the generation ended`);
  await generating.close();
  await monitoring.close();
});
