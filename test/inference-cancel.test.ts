// The example node on real models: inference_cancel stops a streaming generation, and
// inference_request takes a chat (`messages`), rendered with the model's chat template or the
// pipeline's fallback.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildModel } from "@modelnode/model-builder";
import { header, TestClient } from "@modelnode/testing";
import { eventually, pipelineStats, startNode } from "./support/node.js";
import { REPO_ROOT, TINY_MODEL_DIR } from "./support/paths.js";

test("inference_cancel ends a streaming generation with finish_reason cancelled, and frees it", async (t) => {
  // ~0.1 s a model run: the generation is surely still running when the cancel arrives.
  const dir = join(REPO_ROOT, "models", "slow-tiny-gpt2");
  buildModel({ out: dir, model: "slow-tiny-gpt2", ifMissing: true });
  const { node, url } = await startNode({ models: { slow: dir }, limits: { maxTokens: 1000 } });
  t.after(() => node.close());
  const client = await TestClient.connect(url);
  t.after(() => client.close());

  client.send({ header: header("inference_request", "story"), model_id: "slow", prompt: "A long story:", max_tokens: 1000, stream: true });
  const first = await client.next(60_000);
  assert.equal(first.header.message_type, "inference_chunk");
  client.send({ header: header("inference_cancel", "stop-it"), target_message_id: "story" });

  let final: any;
  let cancelReply: any;
  const texts = [first.text];
  while (!final || !cancelReply) {
    const frame = await client.next(60_000);
    if (frame.header.correlation_id === "stop-it") cancelReply = frame;
    else if (frame.header.message_type === "inference_chunk") texts.push(frame.text);
    else final = frame;
  }
  assert.equal(cancelReply.header.message_type, "inference_cancel_response");
  assert.equal(cancelReply.target_message_id, "story");
  assert.equal(cancelReply.cancelled, true);
  assert.equal(final.header.message_type, "inference_response");
  assert.equal(final.header.correlation_id, "story");
  assert.equal(final.finish_reason, "cancelled");
  assert.equal(final.text, texts.join(""));
  assert.ok(final.usage.completion_tokens >= 1 && final.usage.completion_tokens < 1000, `${final.usage.completion_tokens} tokens`);

  await eventually(() => pipelineStats(node).generationsInFlight === 0 && node.getStats().in_flight === 0, "the generation to be freed");
  const inference = node.getStats().inference as any;
  assert.equal(inference.cancels, 1);
  assert.equal(inference.finish_reasons.cancelled, 1);
  // Finished: a second cancel finds nothing.
  const again = await client.call("inference_cancel", { target_message_id: "story" });
  assert.equal(again.code, "REQUEST_NOT_FOUND");
});

test("messages on the real node: the model's own chat template, or the fallback, each as the prompt it renders to", async (t) => {
  const parent = mkdtempSync(join(tmpdir(), "modelnode-chat-e2e-"));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  const chatDir = join(parent, "tiny-chat");
  cpSync(TINY_MODEL_DIR, chatDir, { recursive: true });
  const configFile = join(chatDir, "tokenizer_config.json");
  const tokenizerConfig = JSON.parse(readFileSync(configFile, "utf8"));
  tokenizerConfig.chat_template =
    "{% for message in messages %}<|{{ message.role }}|>\n{{ message.content }}{{ eos_token }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}";
  writeFileSync(configFile, JSON.stringify(tokenizerConfig));

  const { node, url } = await startNode({ models: { "tiny-gpt2": TINY_MODEL_DIR, "tiny-chat": chatDir } });
  t.after(() => node.close());
  const client = await TestClient.connect(url);
  t.after(() => client.close());

  const listed = await client.call("list_models");
  assert.deepEqual(
    listed.models.map((m: any) => [m.id, m.has_chat_template]),
    [
      ["tiny-gpt2", false],
      ["tiny-chat", true],
    ],
  );

  const messages = [
    { role: "system", content: "Answer briefly." },
    { role: "user", content: "What is the capital of France?" },
  ];
  const rendered = {
    "tiny-chat": "<|system|>\nAnswer briefly.<|endoftext|>\n<|user|>\nWhat is the capital of France?<|endoftext|>\n<|assistant|>\n",
    "tiny-gpt2": "system: Answer briefly.\nuser: What is the capital of France?\nassistant:",
  };
  for (const [model_id, prompt] of Object.entries(rendered)) {
    const chat = await client.call("inference_request", { model_id, messages, max_tokens: 8 }, `chat-${model_id}`);
    assert.equal(chat.header.message_type, "inference_response", JSON.stringify(chat));
    assert.equal(chat.header.correlation_id, `chat-${model_id}`);
    const plain = await client.call("inference_request", { model_id, prompt, max_tokens: 8 });
    // The plain prompt finds the chat's tokens in the prefix cache (usage.cached_tokens): the rest is the same.
    const tokens = ({ prompt_tokens, completion_tokens }: { prompt_tokens: number; completion_tokens: number }) => ({ prompt_tokens, completion_tokens });
    assert.deepEqual(
      { text: chat.text, finish_reason: chat.finish_reason, usage: tokens(chat.usage) },
      { text: plain.text, finish_reason: plain.finish_reason, usage: tokens(plain.usage) },
      model_id,
    );
    assert.ok(plain.usage.cached_tokens > 0, "the chat's tokens were cached");
    // Streamed, the same text.
    client.send({ header: header("inference_request"), model_id, messages, max_tokens: 8, stream: true });
    const { chunks, final } = await client.untilFinal();
    assert.equal(chunks.map((c) => c.text).join(""), chat.text);
    assert.equal(final.text, chat.text);
  }

  const both = await client.call("inference_request", { model_id: "tiny-chat", prompt: "Hi", messages });
  assert.equal(both.code, "VALIDATION_FAILED");
  assert.ok(both.details.issues.some((i: any) => i.path === "messages"));
});
