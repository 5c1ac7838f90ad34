import { test } from "node:test";
import assert from "node:assert/strict";
import { defineHandler, definePlugin, LEGACY_FORMAT, PIPELINE, z } from "@modelnode/core";
import { createNode, pipelinePlugin } from "@modelnode/core/server";
import { FakePipeline, fakeConnection, invokeHandler, LogCapture } from "../src/index.js";

const logs = defineHandler({
  type: "note",
  schema: z.object({ text: z.string() }),
  handle(msg, ctx) {
    ctx.logger.info({ text: msg.text }, "noted"); // threw "cannot read properties of undefined" before
    return { ok: true };
  },
});

test("fakeConnection has a logger, so a handler that logs can be unit-tested", async () => {
  const node = await createNode({ logLevel: "silent", plugins: [definePlugin({ name: "note", handlers: [logs] })] });
  assert.deepEqual(await invokeHandler(node, "note", { text: "hi" }), [{ type: "note_response", payload: { ok: true } }]);
  const capture = new LogCapture();
  await invokeHandler(node, "note", { text: "seen" }, fakeConnection({ logger: capture.logger }));
  assert.ok(capture.parsed.some((l) => l.msg === "noted" && l.text === "seen"));
  await node.close();
});

test("FakePipeline: tokenizer, generation and steps a plugin test can rely on", async () => {
  const pipeline = new FakePipeline();
  assert.deepEqual(await pipeline.tokenize("fake", "Hi"), { ids: [72, 105], tokens: ["H", "i"] });
  assert.equal(await pipeline.countTokens("fake", "Hello"), 5);
  await assert.rejects(pipeline.countTokens("nope", "x"), { code: "MODEL_NOT_FOUND" });
  assert.equal(await pipeline.countChatTokens("fake", [{ role: "user", content: "Hi" }]), "user: Hi\nassistant: ".length);
  assert.equal((await pipeline.tokenizeChat("fake", [{ role: "user", content: "Hi" }])).length, "user: Hi\nassistant: ".length);
  await assert.rejects(pipeline.countChatTokens("nope", [{ role: "user", content: "Hi" }]), { code: "MODEL_NOT_FOUND" });
  const result = await pipeline.generate({ modelId: "fake", prompt: "Hi", maxTokens: 3, stop: ["w2"] });
  assert.deepEqual(result, { text: "w0 w1 ", finishReason: "stop", stopSequence: "w2", usage: { promptTokens: 2, completionTokens: 3 } });
  const step = await pipeline.step({ sessionId: "s", modelId: "fake", step: 0, inputIds: "Hi" });
  assert.equal(step.nextTokenId, 106);
  await assert.rejects(pipeline.step({ sessionId: "s", modelId: "fake", step: 5, inputIds: [1] }), { code: "STEP_OUT_OF_ORDER" });

  // Composed like a real one, a plugin that needs it can be driven without a socket.
  const count = defineHandler({
    type: "count",
    schema: z.object({ text: z.string() }),
    inject: { pipeline: PIPELINE },
    handle: async (msg, _ctx, deps) => ({ tokens: await deps.pipeline.countTokens("fake", msg.text) }),
  });
  const node = await createNode({ logLevel: "silent", plugins: [pipelinePlugin(pipeline), definePlugin({ name: "count", requires: [PIPELINE], handlers: [count] })] });
  assert.deepEqual(await invokeHandler(node, "count", { text: "abc" }), [{ type: "count_response", payload: { tokens: 3 } }]);
  await assert.rejects(invokeHandler(node, LEGACY_FORMAT, {}), /no handler registered for the legacy format/);
  await node.close();
});
