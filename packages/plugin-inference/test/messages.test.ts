// inference_request with `messages` (a chat) instead of `prompt`, over a real socket.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pipelinePlugin } from "@modelnode/core/server";
import { FakePipeline, header, startTestNode, TestClient } from "@modelnode/testing";
import { inferencePlugin } from "../src/index.js";

async function setup(options: Parameters<typeof inferencePlugin>[0] = {}, pipeline = new FakePipeline()) {
  const { node, url } = await startTestNode({ plugins: [pipelinePlugin(pipeline), inferencePlugin(options)] });
  const client = await TestClient.connect(url, { checkReplies: node });
  return {
    node,
    pipeline,
    client,
    async close() {
      await client.close();
      await node.close();
    },
  };
}

const chat = [
  { role: "system", content: "Be brief." },
  { role: "user", content: "Hi" },
];

test("messages reach the pipeline as the chat (role and content only), in place of a prompt", async () => {
  const { pipeline, client, close } = await setup();
  try {
    const reply = await client.call(
      "inference_request",
      { model_id: "fake", messages: chat.map((m) => ({ ...m, name: "dropped" })), max_tokens: 3 },
      "chat-1",
    );
    assert.equal(reply.header.message_type, "inference_response");
    assert.equal(reply.header.correlation_id, "chat-1");
    assert.equal(reply.text, "w0 w1 w2 ");
    // FakePipeline's template: "<role>: <content>\n" per message, then "assistant: ".
    const rendered = "system: Be brief.\nuser: Hi\nassistant: ";
    assert.deepEqual(reply.usage, { prompt_tokens: rendered.length, completion_tokens: 3 });
    const { signal, ...request } = pipeline.requests[0];
    assert.ok(signal instanceof AbortSignal);
    assert.deepEqual(request, { modelId: "fake", messages: chat, maxTokens: 3 });
    assert.equal("prompt" in request, false);

    client.send({ header: header("inference_request", "chat-2"), model_id: "fake", messages: chat, max_tokens: 2, stream: true });
    const { chunks, final } = await client.untilFinal();
    assert.deepEqual(chunks.map((c) => c.text), ["w0 ", "w1 "]);
    assert.equal(final.header.correlation_id, "chat-2");
    assert.equal(final.usage.prompt_tokens, rendered.length);
  } finally {
    await close();
  }
});

test("exactly one of prompt and messages, messages bounded: else VALIDATION_FAILED naming the field", async () => {
  const { pipeline, client, close } = await setup({ maxChatMessages: 3, maxChatChars: 10 });
  try {
    const base = { model_id: "fake" };
    const user = (content: string) => ({ role: "user", content });
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, prompt: "p", messages: [user("x")] }, "messages"],
      [{ ...base }, "prompt"],
      [{ ...base, messages: [] }, "messages"],
      [{ ...base, messages: "Hi" }, "messages"],
      [{ ...base, messages: [user("a"), user("b"), user("c"), user("d")] }, "messages"],
      [{ ...base, messages: [user("x".repeat(11))] }, "messages.0.content"],
      [{ ...base, messages: [user("x".repeat(6)), user("y".repeat(5))] }, "messages"],
      [{ ...base, messages: [{ role: "", content: "x" }] }, "messages.0.role"],
      [{ ...base, messages: [{ role: "r".repeat(65), content: "x" }] }, "messages.0.role"],
      [{ ...base, messages: [{ role: "user" }] }, "messages.0.content"],
      [{ ...base, messages: [{ role: "user", content: 5 }] }, "messages.0.content"],
      [{ ...base, messages: [user("x"), { role: 1, content: "y" }] }, "messages.1.role"],
    ];
    for (const [payload, path] of cases) {
      const reply = await client.call("inference_request", payload);
      assert.equal(reply.code, "VALIDATION_FAILED", JSON.stringify(payload));
      assert.ok(
        reply.details.issues.some((i: { path: string }) => i.path === path),
        `${JSON.stringify(payload)}: ${JSON.stringify(reply.details.issues)}`,
      );
    }
    assert.equal(pipeline.requests.length, 0);
    // At the limits, accepted.
    const ok = await client.call("inference_request", { ...base, messages: [user("x".repeat(5)), user("y".repeat(4)), { role: "assistant", content: "z" }], max_tokens: 1 });
    assert.equal(ok.header.message_type, "inference_response");
  } finally {
    await close();
  }
});

test("the chat options are validated with the others", () => {
  assert.throws(() => inferencePlugin({ maxChatMessages: 0 }), /maxChatMessages must be an integer ≥ 1/);
  assert.throws(() => inferencePlugin({ maxChatChars: Number.NaN }), /maxChatChars must be an integer ≥ 1/);
});

test("list_models says has_chat_template when the pipeline knows it", async () => {
  const pipeline = new FakePipeline([
    { id: "chatty", contextLength: 64, vocabSize: 128, hasChatTemplate: true },
    { id: "base", contextLength: 64, vocabSize: 128, hasChatTemplate: false },
    "plain",
  ]);
  const { client, close } = await setup({}, pipeline);
  try {
    const reply = await client.call("list_models");
    assert.deepEqual(reply.models, [
      { id: "chatty", context_length: 64, vocab_size: 128, has_chat_template: true },
      { id: "base", context_length: 64, vocab_size: 128, has_chat_template: false },
      { id: "plain", context_length: 64, vocab_size: 128 },
    ]);
  } finally {
    await close();
  }
});
