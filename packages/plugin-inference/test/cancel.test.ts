// inference_cancel over a real socket: it stops one of the connection's own requests in flight.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pipelinePlugin } from "@modelnode/core/server";
import { eventually, FakePipeline, header, startTestNode, TestClient } from "@modelnode/testing";
import { inferencePlugin } from "../src/index.js";

/** A node whose fake model takes a millisecond a token, so that long generations are in flight long enough to cancel. */
async function setup(limits: { maxInFlightPerConnection?: number } = {}) {
  const pipeline = new FakePipeline();
  pipeline.tokenDelay = () => new Promise((resolve) => setTimeout(resolve, 1));
  const { node, url } = await startTestNode({ limits, plugins: [pipelinePlugin(pipeline), inferencePlugin()] });
  const clients: TestClient[] = [];
  return {
    node,
    pipeline,
    url,
    async connect() {
      const client = await TestClient.connect(url, { checkReplies: node });
      clients.push(client);
      return client;
    },
    async close() {
      for (const client of clients) await client.close();
      await node.close();
    },
  };
}

const long = (id: string, stream: boolean) => ({
  header: header("inference_request", id),
  model_id: "fake",
  prompt: "A long story:",
  max_tokens: 4000,
  stream,
});
const cancel = (target: string, id = `cancel-${target}`) => ({ header: header("inference_cancel", id), target_message_id: target });

/** Frames until the final reply to `requestId` (not a chunk) and the reply to `cancelId` have both come. */
async function untilBoth(client: TestClient, requestId: string, cancelId: string) {
  const chunks: any[] = [];
  let final: any;
  let cancelReply: any;
  while (!final || !cancelReply) {
    const frame = await client.next();
    if (frame.header.correlation_id === cancelId) cancelReply = frame;
    else if (frame.header.correlation_id !== requestId) assert.fail(`unexpected frame ${JSON.stringify(frame)}`);
    else if (frame.header.message_type === "inference_chunk") chunks.push(frame);
    else final = frame;
  }
  return { chunks, final, cancelReply };
}

test("a streamed request cancelled: inference_cancel_response, then the stream ends with finish_reason cancelled", async () => {
  const { node, pipeline, connect, close } = await setup();
  try {
    const client = await connect();
    client.send(long("story-1", true));
    const first = await client.next();
    assert.equal(first.header.message_type, "inference_chunk");
    client.send(cancel("story-1", "c-1"));
    const { chunks, final, cancelReply } = await untilBoth(client, "story-1", "c-1");

    assert.equal(cancelReply.header.message_type, "inference_cancel_response");
    assert.deepEqual({ target_message_id: cancelReply.target_message_id, cancelled: cancelReply.cancelled }, { target_message_id: "story-1", cancelled: true });
    assert.equal(final.header.message_type, "inference_response");
    assert.equal(final.finish_reason, "cancelled");
    assert.equal(final.text, [first, ...chunks].map((c) => c.text).join(""), "the text so far");
    assert.equal(final.usage.completion_tokens, 1 + chunks.length);
    assert.ok(final.usage.completion_tokens < 4000);
    assert.equal(pipeline.stats().generationsInFlight, 0);

    // It has finished: cancelling it again finds nothing.
    const again = await client.call("inference_cancel", { target_message_id: "story-1" }, "c-2");
    assert.equal(again.header.message_type, "error");
    assert.equal(again.header.correlation_id, "c-2");
    assert.equal(again.code, "REQUEST_NOT_FOUND");
    assert.deepEqual(again.details, { message_id: "story-1" });

    const stats = node.getStats().inference as any;
    assert.equal(stats.cancels, 1);
    assert.equal(stats.finish_reasons.cancelled, 1);
    assert.equal(stats.in_flight, 0);
  } finally {
    await close();
  }
});

test("a whole (not streamed) request cancelled: its one inference_response has finish_reason cancelled", async () => {
  const { pipeline, connect, close } = await setup();
  try {
    const client = await connect();
    client.send(long("whole-1", false));
    // Sent right behind the request: the request is already on the connection's list.
    client.send(cancel("whole-1", "c-1"));
    const { chunks, final, cancelReply } = await untilBoth(client, "whole-1", "c-1");
    assert.equal(chunks.length, 0);
    assert.equal(cancelReply.cancelled, true);
    assert.equal(final.finish_reason, "cancelled");
    assert.ok(final.usage.completion_tokens < 4000);
    assert.equal(pipeline.requests[0].signal?.aborted, true);
  } finally {
    await close();
  }
});

test("an unknown target, or one already finished, is REQUEST_NOT_FOUND", async () => {
  const { connect, close } = await setup();
  try {
    const client = await connect();
    const unknown = await client.call("inference_cancel", { target_message_id: "never-sent" }, "c-1");
    assert.equal(unknown.code, "REQUEST_NOT_FOUND");
    assert.equal(unknown.header.correlation_id, "c-1");
    assert.match(unknown.message, /^No request "never-sent" is in flight on this connection/);

    const done = await client.call("inference_request", { model_id: "fake", prompt: "p", max_tokens: 2 }, "short-1");
    assert.equal(done.finish_reason, "length");
    assert.equal((await client.call("inference_cancel", { target_message_id: "short-1" })).code, "REQUEST_NOT_FOUND");

    client.send({ header: header("inference_request", "short-2"), model_id: "fake", prompt: "p", max_tokens: 2, stream: true });
    assert.equal((await client.untilFinal()).final.finish_reason, "length");
    assert.equal((await client.call("inference_cancel", { target_message_id: "short-2" })).code, "REQUEST_NOT_FOUND");

    // A request that failed was never in flight.
    assert.equal((await client.call("inference_request", { model_id: "nope", prompt: "p" }, "bad-1")).code, "MODEL_NOT_FOUND");
    assert.equal((await client.call("inference_cancel", { target_message_id: "bad-1" })).code, "REQUEST_NOT_FOUND");

    const invalid = await client.call("inference_cancel", {});
    assert.equal(invalid.code, "VALIDATION_FAILED");
    assert.equal(invalid.details.issues[0].path, "target_message_id");
  } finally {
    await close();
  }
});

test("another connection's request cannot be cancelled: REQUEST_NOT_FOUND, and it runs on", async () => {
  const { connect, close } = await setup();
  try {
    const owner = await connect();
    const stranger = await connect();
    owner.send(long("shared-id", true));
    await owner.next();
    const refused = await stranger.call("inference_cancel", { target_message_id: "shared-id" }, "s-1");
    assert.equal(refused.code, "REQUEST_NOT_FOUND");
    // Still streaming for its owner, who can cancel it.
    assert.equal((await owner.next()).header.message_type, "inference_chunk");
    owner.send(cancel("shared-id", "o-1"));
    const { final, cancelReply } = await untilBoth(owner, "shared-id", "o-1");
    assert.equal(cancelReply.cancelled, true);
    assert.equal(final.finish_reason, "cancelled");
  } finally {
    await close();
  }
});

test("a second request with the message_id of one in flight is INVALID_REQUEST; the id is free again once it ends", async () => {
  const { pipeline, connect, close } = await setup();
  try {
    const client = await connect();
    client.send(long("dup", true));
    await client.next();
    client.send({ header: header("inference_request", "dup"), model_id: "fake", prompt: "again", max_tokens: 1 });
    let refusal = await client.next();
    while (refusal.header.message_type === "inference_chunk") refusal = await client.next();
    assert.equal(refusal.header.message_type, "error");
    assert.equal(refusal.header.correlation_id, "dup");
    assert.equal(refusal.code, "INVALID_REQUEST");
    assert.match(refusal.message, /already in flight on this connection/);
    assert.deepEqual(refusal.details, { field: "header.message_id" });
    assert.equal(pipeline.requests.length, 1);

    client.send(cancel("dup", "c-dup"));
    const { final } = await untilBoth(client, "dup", "c-dup");
    assert.equal(final.finish_reason, "cancelled");
    const reused = await client.call("inference_request", { model_id: "fake", prompt: "p", max_tokens: 1 }, "dup");
    assert.equal(reused.finish_reason, "length");
  } finally {
    await close();
  }
});

test("closing the connection still cancels its requests, and forgets them", async () => {
  const { node, pipeline, connect, close } = await setup();
  try {
    const client = await connect();
    client.send(long("gone-1", true));
    await client.next();
    await client.close();
    await eventually(() => pipeline.generationsInFlight === 0 && node.getStats().in_flight === 0, "the generation to end");
    assert.equal((node.getStats().inference as any).finish_reasons.cancelled, 1);
  } finally {
    await close();
  }
});

test("a cancel is answered even when the connection is at its in-flight cap (it is a control message)", async () => {
  const { close, connect } = await setup({ maxInFlightPerConnection: 1 });
  try {
    const client = await connect();
    client.send(long("only-one", true));
    assert.equal((await client.next()).header.message_type, "inference_chunk");
    // A second request is refused at the cap; the cancel is not.
    const refused = await client.call("list_models", {}, "over-cap");
    const frames = [refused];
    while (frames.at(-1)?.header.correlation_id !== "over-cap") frames.push(await client.next());
    assert.equal(frames.at(-1).code, "TOO_MANY_REQUESTS_IN_FLIGHT");
    client.send(cancel("only-one", "c-cap"));
    const { final, cancelReply } = await untilBoth(client, "only-one", "c-cap");
    assert.equal(cancelReply.header.message_type, "inference_cancel_response");
    assert.equal(final.finish_reason, "cancelled");
  } finally {
    await close();
  }
});
