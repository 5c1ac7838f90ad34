// While the model generates, the node keeps answering: model runs happen on the engine thread,
// so heartbeats and other requests are served while a long generation runs.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { ModelNode } from "@modelnode/core/server";
import { buildModel } from "@modelnode/model-builder";
import { header, TestClient } from "@modelnode/testing";
import { startNode } from "./support/node.js";
import { REPO_ROOT } from "./support/paths.js";

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

test("heartbeats are answered in far less than one model run while the engine is saturated (a deliberately slow model)", async (t) => {
  // Every run of this model takes ~0.1 s of CPU. Were runs on the node's own thread, a heartbeat
  // would wait for the run in progress; on the engine thread, it does not.
  const dir = join(REPO_ROOT, "models", "slow-tiny-gpt2");
  buildModel({ out: dir, model: "slow-tiny-gpt2", ifMissing: true });
  const slow = await startNode({ models: { slow: dir } });
  t.after(() => slow.node.close());
  const generating = await TestClient.connect(slow.url);
  const monitoring = await TestClient.connect(slow.url);
  const arrivals: number[] = [];
  let done = false;
  generating.send({ header: header("inference_request", "slow"), model_id: "slow", prompt: "a slow one", max_tokens: 12, stream: true });
  const finished = (async () => {
    for (;;) {
      const message = await generating.next(60_000);
      if (message.header.message_type === "inference_chunk") arrivals.push(performance.now());
      else return message;
    }
  })().finally(() => (done = true));
  const rtts: number[] = [];
  while (!done) {
    const sent = performance.now();
    const ack = await monitoring.call("heartbeat", { worker_id: `w-${rtts.length}` });
    assert.equal(ack.header.message_type, "heartbeat_ack");
    if (!done) rtts.push(performance.now() - sent);
  }
  const reply = await finished;
  assert.equal(reply.header.message_type, "inference_response");
  const gaps = arrivals.slice(1).map((at, i) => at - arrivals[i]).sort((a, b) => a - b);
  const gap = gaps[Math.floor(gaps.length / 2)];
  rtts.sort((a, b) => a - b);
  const p90 = rtts[Math.floor(rtts.length * 0.9)];
  assert.ok(gap >= 20, `the slow model is not slow here (median gap ${gap.toFixed(1)} ms)`);
  assert.ok(rtts.length >= 10, `only ${rtts.length} heartbeats during the generation`);
  assert.ok(p90 < gap / 2, `heartbeat p90 ${p90.toFixed(1)} ms against model runs of ${gap.toFixed(1)} ms`);
  await generating.close();
  await monitoring.close();
});
