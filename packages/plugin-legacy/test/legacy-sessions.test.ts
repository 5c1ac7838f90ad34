import { test } from "node:test";
import assert from "node:assert/strict";
import { legacyPlugin } from "../src/index.js";
import { pipelinePlugin } from "@modelnode/core/server";
import { FakePipeline } from "@modelnode/testing";
import { connection, msg, nodeWith, send } from "./harness.js";

async function setup(options: Parameters<typeof legacyPlugin>[0] = {}, pipeline = new FakePipeline()) {
  const node = await nodeWith([legacyPlugin(options), pipelinePlugin(pipeline)]);
  return { node, pipeline };
}

test("global scope (default): a reconnecting client continues its session on a new connection", async () => {
  const { node, pipeline } = await setup();
  const first = connection();
  await send(node, msg("field", 0, "Hello"), first);
  first.close();
  const reply = await send(node, msg("field", 1, [1]), connection());
  assert.equal(reply.output_tensors.sequence_length, 6);
  assert.deepEqual(pipeline.closed, []);
  assert.deepEqual(pipeline.steps.map((s) => s.sessionId), ["field", "field"]);
  await node.close();
});

test("connection scope: sessions are private to a connection and freed when it closes", async () => {
  const { node, pipeline } = await setup({ sessionScope: "connection" });
  const a = connection("A");
  const b = connection("B");
  await send(node, msg("same", 0, [1]), a);
  await send(node, msg("same", 0, [9]), b);
  assert.equal((await send(node, msg("same", 1, [2]), a)).output_tensors.sequence_length, 2);
  // B's "same" is its own session: it is at step 0, not 1. Errors name the client's session_id.
  await assert.rejects(send(node, msg("same", 2, [2]), b), { code: "STEP_OUT_OF_ORDER", message: 'Session "same" expects step 1, got 2.' });
  assert.deepEqual(pipeline.steps.map((s) => s.sessionId), ["A/same", "B/same", "A/same", "B/same"]);
  a.close();
  assert.deepEqual(pipeline.closed, ["A/same"]);
  await assert.rejects(send(node, msg("same", 2, [3]), connection("A2")), { code: "SESSION_NOT_FOUND" });
  assert.equal((node.getStats().legacy as any).active_sessions, 1);
  await node.close();
});

test("connection scope: beyond maxSessionsPerConnection the connection's oldest session is freed", async () => {
  const { node, pipeline } = await setup({ sessionScope: "connection", maxSessionsPerConnection: 2 });
  const conn = connection("C");
  await send(node, msg("a", 0, [1]), conn);
  await send(node, msg("b", 0, [1]), conn);
  await send(node, msg("a", 0, [1]), conn); // a restart makes "a" the newest
  await send(node, msg("c", 0, [1]), conn);
  assert.deepEqual(pipeline.closed, ["C/b"]);
  await assert.rejects(send(node, msg("b", 1, [1]), conn), { code: "SESSION_NOT_FOUND" });
  assert.equal((await send(node, msg("a", 1, [1]), conn)).step, 1);
  await node.close();
});

test("model_id (optional) picks a model; unknown ones are MODEL_NOT_FOUND listing what is served", async () => {
  const pipeline = new FakePipeline([
    { id: "first", contextLength: 32, vocabSize: 128 },
    { id: "second", contextLength: 32, vocabSize: 64 },
  ]);
  const { node } = await setup({}, pipeline);
  const conn = connection();
  await send(node, msg("s", 0, [10], { model_id: "second" }), conn);
  assert.equal(pipeline.steps[0].modelId, "second");
  await assert.rejects(send(node, msg("t", 0, [1], { model_id: "gpt-9" }), conn), (err: any) => {
    assert.equal(err.code, "MODEL_NOT_FOUND");
    assert.deepEqual(err.details, { model_id: "gpt-9", available: ["first", "second"] });
    return true;
  });
  assert.equal(pipeline.steps.length, 1);
  await node.close();
});

test("modelId option: default is the pipeline's first model; an unknown one fails startup", async () => {
  const models = [
    { id: "first", contextLength: 32, vocabSize: 128 },
    { id: "second", contextLength: 32, vocabSize: 64 },
  ];
  const byDefault = await setup({}, new FakePipeline(models));
  await send(byDefault.node, msg("s", 0, [1]), connection());
  assert.equal(byDefault.pipeline.steps[0].modelId, "first");
  await byDefault.node.close();
  const chosen = await setup({ modelId: "second" }, new FakePipeline(models));
  await send(chosen.node, msg("s", 0, [1]), connection());
  assert.equal(chosen.pipeline.steps[0].modelId, "second");
  await chosen.node.close();
  await assert.rejects(setup({ modelId: "third" }, new FakePipeline(models)), /model "third" is not served.*first, second/);
  await assert.rejects(setup({}, new FakePipeline([])), /serves no model/);
});

test("bad options are refused when the plugin is made", () => {
  assert.throws(() => legacyPlugin({ maxInputTokens: 0 }), /maxInputTokens must be a positive integer/);
  assert.throws(() => legacyPlugin({ maxSessionsPerConnection: 1.5 }), /maxSessionsPerConnection/);
  assert.throws(() => legacyPlugin({ sessionScope: "node" as never }), /sessionScope/);
});

test("stats count steps and sessions started next to the pipeline's live sessions", async () => {
  const { node } = await setup();
  const conn = connection();
  await send(node, msg("a", 0, [1]), conn);
  await send(node, msg("a", 1, [1]), conn);
  await send(node, msg("b", 0, [1]), conn);
  await assert.rejects(send(node, msg("zzz", 1, [1]), conn));
  assert.deepEqual(node.getStats().legacy, { steps: 4, sessions_started: 2, active_sessions: 2 });
  await node.close();
});
