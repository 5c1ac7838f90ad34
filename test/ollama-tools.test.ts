// Tool calling through the Ollama API, end to end: the example node serving the Qwen3-shaped
// fixture (real Qwen3 tokenizer and chat template, random weights), asked through the official
// ollama client. The door's tool_choice extension ("required", a named function) makes the
// random-weight model write calls whose arguments validate against the tool's schema (ajv); a
// stream brings each call whole in a chunk of its own, as the whole reply has them; a tool's result
// goes back (role "tool", tool_name) rendered as the OpenAI door's equivalent history is.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Ollama, type ChatRequest, type ChatResponse, type Message, type Tool } from "ollama";
import OpenAI from "openai";
import type { ModelNode } from "@modelnode/core/server";
import { eventuallyIdle } from "./support/node.js";
import { ADD, assertValidCall as assertValid, QUESTION, QWEN3 as MODEL, startQwen3Node, WEATHER } from "./support/tool-fixture.js";

let node: ModelNode;
let close: () => Promise<void>;
let ollama: Ollama;
let openai: OpenAI;

before(async () => {
  let base: string;
  ({ node, base, close } = await startQwen3Node("e2e-ollama-tools"));
  ollama = new Ollama({ host: base });
  openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "x", maxRetries: 0 });
});
after(() => close?.());

const OLLAMA_TOOLS: Tool[] = [
  { type: "function", function: { name: "get_weather", description: "The weather in a city, for some days", parameters: WEATHER as Tool["function"]["parameters"] } },
  { type: "function", function: { name: "add", parameters: ADD as Tool["function"]["parameters"] } },
];

/** The Ollama door's `tool_choice` (a modelnode extension: Ollama's own API has none), which the client passes on as it is. */
type WithChoice = ChatRequest & { tool_choice?: unknown };
const ollamaChat = (request: WithChoice) => ollama.chat({ ...request, stream: false } as ChatRequest & { stream: false });
const ollamaStream = (request: WithChoice) => ollama.chat({ ...request, stream: true } as ChatRequest & { stream: true });

test('Ollama /api/chat: tool_choice "required" gives message.tool_calls with object arguments valid for the tool (2 seeds, temperature 1); a named function one call of it', async () => {
  // At once, so that they share the engine's batches (the machine running the suite is slow).
  const [named, ...replies] = await Promise.all([
    ollamaChat({ model: MODEL, messages: [{ role: "user", content: QUESTION }], tools: OLLAMA_TOOLS, tool_choice: { type: "function", function: { name: "add" } }, options: { temperature: 1, seed: 5, num_predict: 100 } }),
    ...[1, 2].map((seed) => ollamaChat({ model: MODEL, messages: [{ role: "user", content: QUESTION }], tools: OLLAMA_TOOLS, tool_choice: "required", options: { temperature: 1, seed, num_predict: 100 } })),
  ]);
  for (const reply of replies) {
    const calls = reply.message.tool_calls ?? [];
    assert.ok(calls.length >= 1, JSON.stringify(reply.message));
    for (const call of calls) assertValid(call.function.name, call.function.arguments);
    if (reply.done_reason === "stop") assert.equal(reply.message.content, "");
  }
  assert.deepEqual(named.message.tool_calls?.map((call) => call.function.name), ["add"]);
  assertValid("add", named.message.tool_calls![0].function.arguments);
  const show = await ollama.show({ model: MODEL });
  assert.deepEqual(show.capabilities, ["completion", "tools"]);
});

test("Ollama streamed: each call arrives whole in a chunk of its own; the chunks give the whole reply's calls and content (same seed)", async () => {
  const request: WithChoice = { model: MODEL, messages: [{ role: "user", content: QUESTION }], tools: OLLAMA_TOOLS, tool_choice: { type: "function", function: { name: "get_weather" } }, options: { temperature: 1, seed: 21, num_predict: 100 } };
  const whole = await ollamaChat(request);
  const calls: NonNullable<Message["tool_calls"]> = [];
  let content = "";
  let last: ChatResponse | undefined;
  for await (const part of await ollamaStream(request)) {
    content += part.message.content;
    if (part.message.tool_calls) {
      assert.equal(part.message.tool_calls.length, 1, "one call per chunk");
      assert.equal(part.message.content, "");
      calls.push(...part.message.tool_calls);
    }
    if (part.done) last = part;
  }
  assert.ok(calls.length >= 1);
  assert.deepEqual(calls.map((call) => call.function), whole.message.tool_calls?.map((call) => call.function));
  assert.equal(content, whole.message.content);
  assert.equal(last?.done_reason, whole.done_reason);
  assert.equal(last?.message.tool_calls, undefined, "the done chunk repeats no call");
});

test("Ollama: the tool's result goes back (role tool, tool_name), rendered as OpenAI's equivalent history; auto with no call is text", async () => {
  const first = await ollamaChat({ model: MODEL, messages: [{ role: "user", content: QUESTION }], tools: OLLAMA_TOOLS, tool_choice: { type: "function", function: { name: "get_weather" } }, options: { temperature: 1, seed: 9, num_predict: 100 } });
  const call = first.message.tool_calls![0];
  const history: Message[] = [{ role: "user", content: QUESTION }, first.message, { role: "tool", tool_name: "get_weather", content: '{"sky": "clear"}' }];
  const final = await ollamaChat({ model: MODEL, messages: history, tools: OLLAMA_TOOLS, options: { temperature: 1, seed: 10, num_predict: 8 } });
  assert.equal(final.message.tool_calls, undefined, JSON.stringify(final.message));
  assert.equal(typeof final.message.content, "string");
  const peer = await openai.chat.completions.create({
    model: MODEL,
    max_tokens: 1,
    tools: OLLAMA_TOOLS as OpenAI.ChatCompletionTool[],
    messages: [
      { role: "user", content: QUESTION },
      { role: "assistant", content: "", tool_calls: [{ id: "call_1", type: "function", function: { name: call.function.name, arguments: JSON.stringify(call.function.arguments) } }] },
      { role: "tool", tool_call_id: "call_1", content: '{"sky": "clear"}' },
    ],
  });
  assert.equal(final.prompt_eval_count, peer.usage?.prompt_tokens);
  await eventuallyIdle(node);
});
