import { test } from "node:test";
import assert from "node:assert/strict";
import { legacyPlugin } from "../src/index.js";
import { pipelinePlugin } from "@modelnode/core/server";
import { FakePipeline } from "@modelnode/testing";
import { connection, msg, nodeWith, send } from "./harness.js";

async function setup(options: Parameters<typeof legacyPlugin>[0] = {}, pipeline = new FakePipeline()) {
  const node = await nodeWith([pipelinePlugin(pipeline), legacyPlugin(options)]);
  return { node, pipeline };
}

test("step 0 with text, then step 1 with the returned token, continues the session", async () => {
  const { node, pipeline } = await setup();
  const conn = connection();
  const first = await send(node, msg("s1", 0, "Hi"), conn);
  assert.deepEqual(first, {
    session_id: "s1",
    step: 0,
    output_tensors: { next_token_id: 106, next_token: "<106>", sequence_length: 2, input_ids: [72, 105], is_eos: false },
  });
  const second = await send(node, msg("s1", 1, [first.output_tensors.next_token_id]), conn);
  assert.equal(second.step, 1);
  assert.equal(second.output_tensors.sequence_length, 3);
  assert.deepEqual(second.output_tensors.input_ids, [106]);
  // Steps ran on the pipeline's first model, keyed by session_id (global scope).
  assert.deepEqual(
    pipeline.steps.map((s) => [s.sessionId, s.modelId, s.step]),
    [["s1", "fake", 0], ["s1", "fake", 1]],
  );
  await node.close();
});

test("token ids and attention_mask are passed to the pipeline as given", async () => {
  const { node, pipeline } = await setup();
  const reply = await send(node, { session_id: "m", step: 0, input_tensors: { input_ids: [1, 2, 3], attention_mask: [1, 1, 0] } }, connection());
  assert.equal(reply.output_tensors.next_token_id, 4);
  assert.deepEqual(pipeline.steps[0].attentionMask, [1, 1, 0]);
  assert.deepEqual(pipeline.steps[0].inputIds, [1, 2, 3]);
  await node.close();
});

test("a mask sent beside text input is ignored: the node tokenizes and masks text itself", async () => {
  const { node, pipeline } = await setup();
  const reply = await send(node, { session_id: "t", step: 0, input_tensors: { input_ids: "Hello", attention_mask: [1, 1, 1] } }, connection());
  assert.equal(typeof reply.output_tensors.next_token_id, "number");
  assert.equal(pipeline.steps[0].inputIds, "Hello");
  assert.equal(pipeline.steps[0].attentionMask, undefined);
  await node.close();
});

test("types are strict and bounded: each bad field is VALIDATION_FAILED naming it", async () => {
  const { node } = await setup({ maxInputTokens: 4, maxInputChars: 5, maxSessionIdLength: 8 });
  const conn = connection();
  const cases: [unknown, string][] = [
    [msg("s", "0" as never, [1]), "step"],
    [msg("s", -1, [1]), "step"],
    [msg("s", 1.5, [1]), "step"],
    [msg("", 0, [1]), "session_id"],
    [msg("123456789", 0, [1]), "session_id"],
    [msg(7 as never, 0, [1]), "session_id"],
    [msg("s", 0, []), "input_tensors.input_ids"],
    [msg("s", 0, [1, -2]), "input_tensors.input_ids"],
    [msg("s", 0, [1, 2.5]), "input_tensors.input_ids"],
    [msg("s", 0, ["1"]), "input_tensors.input_ids"],
    [msg("s", 0, [1, 2, 3, 4, 5]), "input_tensors.input_ids"],
    [msg("s", 0, ""), "input_tensors.input_ids"],
    [msg("s", 0, "too long"), "input_tensors.input_ids"],
    [{ session_id: "s", step: 0 }, "input_tensors"],
    [{ session_id: "s", step: 0, input_tensors: { input_ids: [1, 2], attention_mask: [1] } }, "input_tensors.attention_mask"],
    [{ session_id: "s", step: 0, input_tensors: { input_ids: [1], attention_mask: [2] } }, "input_tensors.attention_mask.0"],
  ];
  for (const [message, path] of cases) {
    await assert.rejects(send(node, message, conn), (err: any) => {
      assert.equal(err.code, "VALIDATION_FAILED", JSON.stringify(message));
      assert.ok(
        err.details.issues.some((i: { path: string }) => i.path.startsWith(path)),
        `${JSON.stringify(message)} → ${JSON.stringify(err.details.issues)}`,
      );
      return true;
    });
  }
  await node.close();
});

test("the pipeline's session errors reach the client with their codes", async () => {
  const { node } = await setup();
  const conn = connection();
  await assert.rejects(send(node, msg("nope", 1, [1]), conn), { code: "SESSION_NOT_FOUND" });
  await send(node, msg("s", 0, [1]), conn);
  await assert.rejects(send(node, msg("s", 2, [1]), conn), { code: "STEP_OUT_OF_ORDER" });
  const tooLong = Array.from({ length: 65 }, (_, i) => i);
  await assert.rejects(send(node, msg("t", 0, tooLong), conn), { code: "CONTEXT_LENGTH_EXCEEDED" });
  await node.close();
});

test("the connection's signal goes to the pipeline, so a closed connection cancels its step", async () => {
  const { node, pipeline } = await setup();
  const conn = connection();
  await send(node, msg("s", 0, [1]), conn);
  assert.equal(pipeline.steps[0].signal, conn.ctx.signal);
  await node.close();
});
