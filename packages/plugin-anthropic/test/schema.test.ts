// The request mapping (body → GenerateRequest) and the refusals, each naming its field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { countTokensRequestSchema, messagesRequestSchema, resolveAnthropicOptions, toGenerateRequest } from "../src/index.js";

const options = resolveAnthropicOptions({ maxStopSequences: 2, maxTokensLimit: 100, defaults: { topK: 7 } });
const schema = messagesRequestSchema(options);
const base = { model: "fake", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] };

/** The issues of a body that must fail: "path: message" each. */
function refusals(body: unknown, s: { safeParse(v: unknown): { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } } = schema): string[] {
  const parsed = s.safeParse(body);
  assert.equal(parsed.success, false, `expected ${JSON.stringify(body)} to be refused`);
  return parsed.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

test("a body maps to the pipeline's request: system first, text blocks joined, sampling and stop sequences carried, defaults filled", () => {
  const body = schema.parse({
    ...base,
    system: [{ type: "text", text: "Be brief." }, { type: "text", text: "Be kind." }],
    messages: [
      { role: "user", content: [{ type: "text", text: "Hello" }] },
      { role: "assistant", content: "Hi there" },
      { role: "user", content: "Tell me" },
    ],
    stop_sequences: ["\n\n", "END"],
    temperature: 0.5,
    top_p: 0.9,
    metadata: { user_id: "u-1" },
    stream: true,
  });
  const signal = new AbortController().signal;
  const request = toGenerateRequest(body, options, signal);
  assert.deepEqual(request.messages, [
    { role: "system", content: "Be brief.\nBe kind." },
    { role: "user", content: "Hello" },
    { role: "assistant", content: "Hi there" },
    { role: "user", content: "Tell me" },
  ]);
  assert.equal(request.maxTokens, 10);
  assert.deepEqual([request.temperature, request.topP, request.topK], [0.5, 0.9, 7]);
  assert.deepEqual(request.stop, ["\n\n", "END"]);
  assert.equal(request.signal, signal);
  assert.equal(request.prompt, undefined);
});

test("without system, sampling or stop sequences the request stays plain (the pipeline decides)", () => {
  const request = toGenerateRequest(schema.parse({ ...base, system: "" }), resolveAnthropicOptions(), new AbortController().signal);
  assert.deepEqual(request.messages, [{ role: "user", content: "Hi" }]);
  assert.deepEqual([request.temperature, request.topP, request.topK, request.stop], [undefined, undefined, undefined, undefined]);
});

test("max_tokens is required and bounded by the options, as Anthropic requires it", () => {
  assert.deepEqual(refusals({ model: "fake", messages: base.messages }), ["max_tokens: required"]);
  assert.deepEqual(refusals({ ...base, max_tokens: 101 }), ["max_tokens: expected an integer from 1 to 100"]);
  assert.deepEqual(refusals({ ...base, max_tokens: 0 }), ["max_tokens: expected an integer from 1 to 100"]);
});

test("sampling fields out of Anthropic's ranges are refused by name", () => {
  assert.deepEqual(refusals({ ...base, temperature: 1.5 }), ["temperature: expected a number from 0 to 1"]);
  assert.deepEqual(refusals({ ...base, top_p: 0 }), ["top_p: expected a number more than 0 and at most 1"]);
  assert.deepEqual(refusals({ ...base, top_k: 0 }), ["top_k: expected an integer ≥ 1"]);
  assert.deepEqual(refusals({ ...base, stop_sequences: ["a", "b", "c"] }), ["stop_sequences: expected at most 2 stop sequences"]);
  assert.deepEqual(refusals({ ...base, stop_sequences: [""] }), ["stop_sequences.0: expected a string of 1 to 64 characters"]);
});

test("unknown and unsupported top-level fields are refused by name, never ignored", () => {
  assert.deepEqual(refusals({ ...base, frobnicate: 1 }), ['frobnicate: unknown field "frobnicate": not part of the API this node serves']);
  assert.deepEqual(refusals({ ...base, thinking: { type: "enabled", budget_tokens: 1024 } }), ["thinking: extended thinking is not supported by the models here"]);
  assert.match(refusals({ ...base, cache_control: { type: "ephemeral" } })[0], /^cache_control: prompt caching is not supported/);
  assert.match(refusals({ ...base, container: "c" })[0], /^container: not supported/);
  assert.match(refusals({ ...base, mcp_servers: [] })[0], /^mcp_servers: not supported/);
  assert.match(refusals({ ...base, output_format: { type: "json_schema" } })[0], /^output_format: not supported: structured outputs are served by/);
  assert.match(refusals({ ...base, service_tier: "auto" })[0], /^service_tier: not supported/);
  assert.deepEqual(refusals({ ...base, metadata: { user_id: "u", tag: "x" } }), ['metadata: unknown field "tag": only user_id is accepted']);
  assert.deepEqual(refusals({ ...base, metadata: "u" }), ['metadata: expected an object ({"user_id"})']);
});

test("content blocks the node does not serve are refused by name: images, documents, thinking, server tools; tool blocks in the wrong role", () => {
  const content = (block: object) => ({ ...base, messages: [{ role: "user", content: [block] }] });
  assert.deepEqual(refusals(content({ type: "image", source: { type: "base64", media_type: "image/png", data: "AA==" } })), [
    "messages.0.content.0.type: image blocks are not supported: this node serves text-only models",
  ]);
  assert.match(refusals(content({ type: "document", source: {} }))[0], /^messages\.0\.content\.0\.type: document blocks are not supported/);
  assert.match(refusals(content({ type: "thinking", thinking: "hm", signature: "s" }))[0], /^messages\.0\.content\.0\.type: thinking blocks are not supported/);
  for (const type of ["server_tool_use", "web_search_tool_result", "web_fetch_tool_result", "code_execution_tool_result", "mcp_tool_use", "mcp_tool_result"]) {
    assert.match(refusals(content({ type, id: "s" }))[0], /^messages\.0\.content\.0\.type: server tools are not supported/, type);
  }
  assert.match(refusals(content({ type: "search_result", source: "s", title: "t", content: [] }))[0], /^messages\.0\.content\.0\.type: search_result blocks are not supported/);
  assert.match(refusals(content({ type: "sticker" }))[0], /^messages\.0\.content\.0\.type: unknown content block type "sticker"/);
  assert.match(refusals(content({ type: "tool_use", id: "t", name: "n", input: {} }))[0], /^messages\.0\.content\.0\.type: tool_use blocks belong in assistant messages/);
  const assistant = { ...base, messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: [{ type: "tool_result", tool_use_id: "t", content: "x" }] }, { role: "user", content: "Hi" }] };
  assert.match(refusals(assistant)[0], /^messages\.1\.content\.0\.type: tool_result blocks belong in user messages/);
  assert.deepEqual(refusals(content({ type: "text", text: "x", cache_control: { type: "ephemeral" } })), ["messages.0.content.0.cache_control: prompt caching is not supported"]);
  assert.deepEqual(refusals({ ...base, system: [{ type: "image", source: {} }] }), ["system.0.type: image blocks are not supported: this node serves text-only models"]);
});

test("messages: roles, unknown fields, a last assistant turn (prefill) and the size limits", () => {
  assert.deepEqual(refusals({ ...base, messages: [{ role: "system", content: "x" }] }), ['messages.0.role: expected "user" or "assistant"']);
  assert.deepEqual(refusals({ ...base, messages: [{ role: "user", content: "x", name: "bob" }] }), ['messages.0.name: unknown field "name": not part of the API this node serves']);
  assert.deepEqual(refusals({ ...base, messages: [{ role: "user", content: "x" }, { role: "assistant", content: "The answer is" }] }), [
    "messages.1.role: a last assistant turn (a prefill to continue) is not supported: end with a user turn",
  ]);
  assert.deepEqual(refusals({ ...base, messages: [] }), ["messages: expected at least one message"]);
  const small = messagesRequestSchema(resolveAnthropicOptions({ maxChatChars: 5, maxChatMessages: 2 }));
  assert.deepEqual(refusals({ ...base, system: "abc", messages: [{ role: "user", content: "abc" }] }, small), ["messages: the system prompt and messages exceed 5 characters in all"]);
  assert.deepEqual(refusals({ ...base, messages: [1, 2, 3].map(() => ({ role: "user", content: "a" })) }, small), ["messages: expected at most 2 messages"]);
});

test("count_tokens takes model, system, messages, tools and tool_choice only: max_tokens there is refused by name", () => {
  const counting = countTokensRequestSchema(options);
  assert.deepEqual(counting.parse({ model: "fake", system: "s", messages: base.messages }).system, "s");
  assert.deepEqual(refusals({ ...base }, counting), ['max_tokens: unknown field "max_tokens": not part of the API this node serves']);
  assert.equal(counting.parse({ model: "fake", messages: base.messages, tools: [{ name: "f", input_schema: { type: "object" } }] }).tools?.length, 1);
});

test("the options are checked when the plugin is made", () => {
  assert.throws(() => resolveAnthropicOptions({ maxTokensLimit: 0 }), /anthropicPlugin: maxTokensLimit must be an integer ≥ 1/);
  assert.throws(() => resolveAnthropicOptions({ defaults: { temperature: 2 } }), /anthropicPlugin: defaults\.temperature must be a number from 0 to 1/);
  assert.throws(() => resolveAnthropicOptions({ nope: 1 } as never), /anthropicPlugin/);
});
