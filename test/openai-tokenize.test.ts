// vLLM's tokenizer routes on the OpenAI plugin (POST /tokenize, POST /detokenize) and the OpenAI
// plugin's 404 for unknown /v1/ paths, end to end on the example node with plain fetch.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { ModelNode } from "@modelnode/core/server";
import { hashLicenseKey } from "@modelnode/plugin-auth";
import { eventuallyIdle, startNode } from "./support/node.js";

let node: ModelNode;
let base: string;

before(async () => {
  let port: number;
  ({ node, port } = await startNode({ nodeId: "e2e-openai-tokenize" }));
  base = `http://127.0.0.1:${port}`;
});
after(() => node.close());

async function post(path: string, body: unknown, headers: Record<string, string> = {}, at = base) {
  const response = await fetch(`${at}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  return { status: response.status, type: response.headers.get("content-type") ?? "", body: (await response.json()) as Record<string, any> };
}

interface Tokenized {
  tokens: number[];
  count: number;
  max_model_len: number;
}

test("POST /tokenize a prompt: ids, count, max_model_len; the count is a completion's usage.prompt_tokens; /detokenize gives the prompt back", async () => {
  const model = node.container.resolve(await import("@modelnode/core").then((core) => core.PIPELINE)).listModels().find((m) => m.id === "tiny-gpt2")!;
  for (const prompt of ["Hello, world!", "Once upon a time, in a land far away"]) {
    const tokenized = await post("/tokenize", { model: "tiny-gpt2", prompt });
    assert.equal(tokenized.status, 200, JSON.stringify(tokenized.body));
    const { tokens, count, max_model_len } = tokenized.body as Tokenized;
    assert.ok(tokens.length > 0 && tokens.every((id) => Number.isInteger(id) && id >= 0));
    assert.equal(count, tokens.length);
    assert.equal(max_model_len, model.contextLength);

    const completion = await post("/v1/completions", { model: "tiny-gpt2", prompt, max_tokens: 1 });
    assert.equal(completion.status, 200);
    assert.equal(completion.body.usage.prompt_tokens, count);

    const detokenized = await post("/detokenize", { model: "tiny-gpt2", tokens });
    assert.equal(detokenized.status, 200);
    assert.deepEqual(detokenized.body, { prompt });
  }
  await eventuallyIdle(node);
});

test("POST /tokenize messages: the chat as its template renders it with the generation prompt, counted as chat completions count it", async () => {
  const messages = [
    { role: "system", content: "You are terse." },
    { role: "user", content: [{ type: "text", text: "Say hi." }] },
  ];
  const tokenized = await post("/tokenize", { model: "tiny-gpt2", messages });
  assert.equal(tokenized.status, 200, JSON.stringify(tokenized.body));
  const { tokens, count } = tokenized.body as Tokenized;
  assert.equal(count, tokens.length);
  const chat = await post("/v1/chat/completions", { model: "tiny-gpt2", messages, max_tokens: 1 });
  assert.equal(chat.status, 200);
  assert.equal(chat.body.usage.prompt_tokens, count);
  // add_generation_prompt: true is the default (and the only value served).
  assert.deepEqual((await post("/tokenize", { model: "tiny-gpt2", messages, add_generation_prompt: true })).body, tokenized.body);
  const rendered = await post("/detokenize", { model: "tiny-gpt2", tokens });
  assert.match(rendered.body.prompt, /You are terse\.[\s\S]*Say hi\./);

  // With tools: rendered with the chat (here in the fallback's system preamble), as a chat completion offering them.
  const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
  const withTools = await post("/tokenize", { model: "tiny-gpt2", messages, tools });
  assert.equal(withTools.status, 200, JSON.stringify(withTools.body));
  assert.ok(withTools.body.count > count);
  const toolChat = await post("/v1/chat/completions", { model: "tiny-gpt2", messages, tools, max_tokens: 1 });
  assert.equal(toolChat.body.usage.prompt_tokens, withTools.body.count);
  const promptTools = await post("/tokenize", { model: "tiny-gpt2", prompt: "Hi", tools });
  assert.deepEqual([promptTools.status, promptTools.body.error.param], [400, "tools"]);
  await eventuallyIdle(node);
});

test("tokenizer errors in OpenAI's shape: unknown model 404, bad ids 400 naming tokens, bad bodies naming the field", async () => {
  const unknown = await post("/tokenize", { model: "nope", prompt: "Hi" });
  assert.equal(unknown.status, 404);
  assert.deepEqual([unknown.body.error.type, unknown.body.error.param, unknown.body.error.code], ["invalid_request_error", "model", "model_not_found"]);
  assert.equal((await post("/detokenize", { model: "nope", tokens: [1] })).status, 404);

  const outside = await post("/detokenize", { model: "tiny-gpt2", tokens: [1, 99_999_999] });
  assert.equal(outside.status, 400);
  assert.equal(outside.body.error.param, "tokens");
  assert.equal(outside.body.error.type, "invalid_request_error");
  for (const tokens of [[-1], [1.5], ["a"], "1 2"]) {
    const bad = await post("/detokenize", { model: "tiny-gpt2", tokens });
    assert.equal(bad.status, 400, JSON.stringify(tokens));
    assert.match(String(bad.body.error.param), /^tokens/);
  }
  const neither = await post("/tokenize", { model: "tiny-gpt2" });
  assert.equal(neither.status, 400);
  assert.equal(neither.body.error.param, "prompt");
  const both = await post("/tokenize", { model: "tiny-gpt2", prompt: "Hi", messages: [{ role: "user", content: "Hi" }] });
  assert.equal(both.body.error.param, "messages");
  const noGenerationPrompt = await post("/tokenize", { model: "tiny-gpt2", messages: [{ role: "user", content: "Hi" }], add_generation_prompt: false });
  assert.equal(noGenerationPrompt.status, 400);
  assert.equal(noGenerationPrompt.body.error.param, "add_generation_prompt");
  const tooLong = await post("/tokenize", { model: "tiny-gpt2", prompt: "x".repeat(40_000) });
  assert.equal(tooLong.status, 400);
  assert.equal(tooLong.body.error.param, "prompt");
});

test("unknown /v1/ paths: 404 in OpenAI's shape, any method; /v1/messages (the Anthropic plugin's) still served; other paths as before", async () => {
  for (const [method, path] of [["GET", "/v1/embeddings"], ["POST", "/v1/embeddings"], ["DELETE", "/v1/files/x"], ["GET", "/v1/models/tiny-gpt2/extra"]]) {
    const response = await fetch(`${base}${path}`, { method, ...(method === "POST" ? { headers: { "content-type": "application/json" }, body: "{}" } : {}) });
    assert.equal(response.status, 404, `${method} ${path}`);
    assert.match(response.headers.get("content-type") ?? "", /application\/json/);
    const body = (await response.json()) as { error: Record<string, unknown> };
    assert.equal(body.error.type, "invalid_request_error");
    assert.equal(body.error.code, "not_found");
    assert.equal(body.error.param, null);
    assert.match(String(body.error.message), new RegExp(`${method} ${path}`));
  }
  const messages = await post("/v1/messages", { model: "tiny-gpt2", max_tokens: 2, messages: [{ role: "user", content: "Hi" }] }, { "anthropic-version": "2023-06-01" });
  assert.equal(messages.status, 200, JSON.stringify(messages.body));
  assert.equal(messages.body.type, "message");
  const counted = await post("/v1/messages/count_tokens", { model: "tiny-gpt2", messages: [{ role: "user", content: "Hi" }] });
  assert.equal(counted.status, 200);
  assert.equal(typeof counted.body.input_tokens, "number");
  assert.equal((await fetch(`${base}/v1/models`)).status, 200);
  const elsewhere = await fetch(`${base}/elsewhere`);
  assert.equal(elsewhere.status, 426);
  await elsewhere.body?.cancel();
  await eventuallyIdle(node);
});

test("the tokenizer routes are guarded like the others (auth), and tokenizerRoutes: false leaves them out", async () => {
  const key = "e2e-tokenize-license-key";
  const secured = await startNode({ auth: { required: true, keyHashes: [hashLicenseKey(key)], secret: "s".repeat(32) } });
  const at = `http://127.0.0.1:${secured.port}`;
  try {
    const anonymous = await post("/tokenize", { model: "tiny-gpt2", prompt: "Hi" }, {}, at);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error.type, "authentication_error");
    assert.equal((await post("/detokenize", { model: "tiny-gpt2", tokens: [1] }, {}, at)).status, 401);
    assert.equal((await post("/tokenize", { model: "tiny-gpt2", prompt: "Hi" }, { authorization: `Bearer ${key}` }, at)).status, 200);
  } finally {
    await secured.node.close();
  }
  const off = await startNode({ openai: { tokenizerRoutes: false } });
  try {
    const response = await fetch(`http://127.0.0.1:${off.port}/tokenize`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.notEqual(response.status, 200);
    await response.body?.cancel();
    assert.equal((await fetch(`http://127.0.0.1:${off.port}/v1/models`)).status, 200);
  } finally {
    await off.node.close();
  }
});
