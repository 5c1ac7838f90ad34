import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { legacyPlugin } from "../src/index.js";
import { FakePipeline, fakePipelinePlugin } from "./fake-pipeline.js";
import { connection, msg, nodeWith, send } from "./harness.js";

async function setup(options: Parameters<typeof legacyPlugin>[0] = {}, pipeline = new FakePipeline()) {
  const node = await nodeWith([legacyPlugin(options), fakePipelinePlugin(pipeline)]);
  return { node, pipeline };
}

test("global scope: a reconnecting client continues its session on a new connection", async () => {
  const { node, pipeline } = await setup();
  const first = connection();
  await send(node, msg("field", 0, "Hello"), first);
  first.close();
  const reply = await send(node, msg("field", 1, [1]), connection());
  assert.equal(reply.output_tensors.sequence_length, 6);
  assert.deepEqual(pipeline.closed, []);
  await node.close();
});

test("connection scope: sessions are private to a connection and freed when it closes", async () => {
  const { node, pipeline } = await setup({ sessionScope: "connection" });
  const a = connection("A");
  const b = connection("B");
  await send(node, msg("same", 0, [1]), a);
  await send(node, msg("same", 0, [9]), b);
  assert.equal((await send(node, msg("same", 1, [2]), a)).output_tensors.sequence_length, 2);
  await assert.rejects(send(node, msg("same", 2, [2]), b), { code: "STEP_OUT_OF_ORDER" });
  a.close();
  assert.deepEqual(pipeline.closed, ["A/same"]);
  await assert.rejects(send(node, msg("same", 2, [3]), connection("A2")), { code: "SESSION_NOT_FOUND" });
  assert.equal((node.getStats().legacy as any).sessions, 1);
  await node.close();
});

test("maxSessions caps new sessions with TOO_MANY_SESSIONS; restarting an existing one is fine", async () => {
  const { node } = await setup({ maxSessions: 2 });
  const conn = connection();
  await send(node, msg("a", 0, [1]), conn);
  await send(node, msg("b", 0, [1]), conn);
  await assert.rejects(send(node, msg("c", 0, [1]), conn), (err: any) => {
    assert.equal(err.code, "TOO_MANY_SESSIONS");
    assert.deepEqual(err.details, { max_sessions: 2 });
    return true;
  });
  assert.equal((await send(node, msg("a", 0, [1]), conn)).step, 0);
  await node.close();
});

test("idle sessions expire: their cache is freed and a later step is SESSION_NOT_FOUND", async () => {
  const { node, pipeline } = await setup({ sessionIdleTimeoutMs: 20, maxSessions: 1 });
  const conn = connection();
  await send(node, msg("idle", 0, [1]), conn);
  await sleep(60);
  // The expired session no longer counts against the cap either.
  await send(node, msg("fresh", 0, [1]), conn);
  assert.ok(pipeline.closed.includes("idle"));
  await assert.rejects(send(node, msg("idle", 1, [1]), conn), { code: "SESSION_NOT_FOUND" });
  assert.equal((node.getStats().legacy as any).expired_sessions >= 1, true);
  await node.close();
});

test("model_id (optional) picks a model; unknown ones are MODEL_NOT_FOUND listing what is served", async () => {
  const pipeline = new FakePipeline([
    { id: "first", contextLength: 32, vocabSize: 128 },
    { id: "second", contextLength: 32, vocabSize: 64 },
  ]);
  const { node } = await setup({}, pipeline);
  const conn = connection();
  await send(node, msg("s", 0, [100], { model_id: "second" }), conn);
  assert.equal(pipeline.steps[0].modelId, "second");
  await send(node, msg("s", 1, [1]), conn);
  assert.equal(pipeline.steps[1].modelId, "second", "later steps stay on the session's model");
  await assert.rejects(send(node, msg("s", 2, [1], { model_id: "first" }), conn), { code: "VALIDATION_FAILED" });
  await assert.rejects(send(node, msg("t", 0, [1], { model_id: "gpt-9" }), conn), (err: any) => {
    assert.equal(err.code, "MODEL_NOT_FOUND");
    assert.deepEqual(err.details.available, ["first", "second"]);
    return true;
  });
  await node.close();
});

test("modelId option: default is the pipeline's first model; an unknown one fails startup", async () => {
  const pipeline = new FakePipeline([
    { id: "first", contextLength: 32, vocabSize: 128 },
    { id: "second", contextLength: 32, vocabSize: 64 },
  ]);
  const { node } = await setup({ modelId: "second" }, pipeline);
  await send(node, msg("s", 0, [1]), connection());
  assert.equal(pipeline.steps[0].modelId, "second");
  await node.close();
  await assert.rejects(setup({ modelId: "third" }, pipeline), /model "third" is not served.*first, second/);
  await assert.rejects(setup({}, new FakePipeline([])), /serves no model/);
});

test("bad options are refused when the plugin is made", () => {
  assert.throws(() => legacyPlugin({ maxSessions: 0 }), /maxSessions must be a positive integer/);
  assert.throws(() => legacyPlugin({ sessionScope: "node" as never }), /sessionScope/);
});

test("closing the node frees every session in the pipeline", async () => {
  const { node, pipeline } = await setup();
  await send(node, msg("a", 0, [1]), connection());
  await send(node, msg("b", 0, [1]), connection());
  await node.close();
  assert.deepEqual(pipeline.closed.sort(), ["a", "b"]);
});
