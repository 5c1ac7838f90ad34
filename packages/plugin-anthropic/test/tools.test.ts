// Tool use on a pipeline that writes a scripted reply: tool_use blocks read out of it (whole and
// streamed: content_block_start + input_json_delta + content_block_stop), stop_reason tool_use,
// the request's tools / tool_choice / history as the pipeline gets them, and bad tools by name.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { GenerateRequest, GenerationEvent } from "@modelnode/core";
import { FakePipeline } from "@modelnode/testing";
import { messagesRequestSchema, resolveAnthropicOptions, toGenerateRequest } from "../src/index.js";
import { bodyOf, serve, sseEvents } from "./support.js";

/** Writes `pieces` as its reply (one text event each), whatever it is asked. */
class ScriptedPipeline extends FakePipeline {
  constructor(private readonly pieces: string[]) {
    super([{ id: "tooly", contextLength: 4096, vocabSize: 128, architecture: "fake", hasChatTemplate: true, toolCallFormat: "hermes" }]);
  }
  override async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    this.requests.push(request);
    for (const text of this.pieces) yield { kind: "text", text };
    yield { kind: "done", result: { text: this.pieces.join(""), finishReason: "stop", usage: { promptTokens: 5, completionTokens: this.pieces.length } } };
  }
}

const CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n</tool_call>';
const TOOLS = [{ name: "get_weather", description: "The weather", input_schema: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } } } }];
const ASK = { model: "tooly", max_tokens: 50, tools: TOOLS, messages: [{ role: "user", content: "Weather in Paris?" }] };

test("whole: the text, then a tool_use block per call (toolu_ id, input an object), stop_reason tool_use; tool_choice none leaves the text", async () => {
  const served = await serve({}, { pipeline: new ScriptedPipeline(["Let me look. ", CALL]) });
  try {
    const message = await bodyOf(await served.post("/v1/messages", ASK));
    assert.equal(message.stop_reason, "tool_use");
    assert.deepEqual(message.content[0], { type: "text", text: "Let me look." });
    assert.equal(message.content[1].type, "tool_use");
    assert.match(message.content[1].id, /^toolu_[A-Za-z0-9]{24}$/);
    assert.deepEqual([message.content[1].name, message.content[1].input], ["get_weather", { city: "Paris", days: 3 }]);
    const none = await bodyOf(await served.post("/v1/messages", { ...ASK, tool_choice: { type: "none" } }));
    assert.deepEqual([none.content, none.stop_reason], [[{ type: "text", text: `Let me look. ${CALL}` }], "end_turn"]);
    const [auto, , ] = served.pipeline.requests;
    assert.deepEqual(auto.tools, [{ type: "function", function: { name: "get_weather", description: "The weather", parameters: TOOLS[0].input_schema } }]);
    assert.equal(served.pipeline.requests[1].toolChoice, "none");
  } finally {
    await served.close();
  }
});

test("streamed: a reply that only calls starts with its tool_use block; input_json_delta carries the input; message_delta says tool_use", async () => {
  const served = await serve({}, { pipeline: new ScriptedPipeline([CALL.slice(0, 15), CALL.slice(15), "\n", CALL.replace("Paris", "Lima")]) });
  try {
    const events = sseEvents(await (await served.post("/v1/messages", { ...ASK, stream: true })).text());
    assert.deepEqual(events.map((e) => e.event), [
      "message_start", "ping",
      "content_block_start", "content_block_delta", "content_block_stop",
      "content_block_start", "content_block_delta", "content_block_stop",
      "message_delta", "message_stop",
    ]);
    const starts = events.filter((e) => e.event === "content_block_start").map((e) => e.data as unknown as { index: number; content_block: { type: string; name: string; input: unknown } });
    assert.deepEqual(starts.map((s) => [s.index, s.content_block.type, s.content_block.name, s.content_block.input]), [[0, "tool_use", "get_weather", {}], [1, "tool_use", "get_weather", {}]]);
    const deltas = events.filter((e) => e.event === "content_block_delta").map((e) => e.data.delta as { type: string; partial_json: string });
    assert.deepEqual(deltas.map((d) => [d.type, JSON.parse(d.partial_json)]), [["input_json_delta", { city: "Paris", days: 3 }], ["input_json_delta", { city: "Lima", days: 3 }]]);
    assert.equal((events[8].data.delta as { stop_reason: string }).stop_reason, "tool_use");
  } finally {
    await served.close();
  }
});

test("the history: tool_use blocks become the assistant's calls, tool_result blocks tool turns answering them (is_error marked)", () => {
  const options = resolveAnthropicOptions();
  const body = messagesRequestSchema(options).parse({
    ...ASK,
    tool_choice: { type: "tool", name: "get_weather", disable_parallel_tool_use: true },
    messages: [
      ASK.messages[0],
      { role: "assistant", content: [{ type: "text", text: "Looking." }, { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } }, { type: "tool_use", id: "toolu_2", name: "get_weather", input: { city: "Lima" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "sunny" }] }, { type: "tool_result", tool_use_id: "toolu_2", content: "no data", is_error: true }, { type: "text", text: "And tomorrow?" }] },
    ],
  });
  const request = toGenerateRequest(body, options, new AbortController().signal);
  assert.deepEqual(request.messages, [
    { role: "user", content: "Weather in Paris?" },
    {
      role: "assistant",
      content: "Looking.",
      tool_calls: [
        { id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
        { id: "toolu_2", type: "function", function: { name: "get_weather", arguments: '{"city":"Lima"}' } },
      ],
    },
    { role: "tool", content: "sunny", tool_call_id: "toolu_1" },
    { role: "tool", content: "Error: no data", tool_call_id: "toolu_2" },
    { role: "user", content: "And tomorrow?" },
  ]);
  assert.deepEqual([request.toolChoice, request.parallelToolCalls], [{ type: "function", function: { name: "get_weather" } }, false]);
  const any = toGenerateRequest(messagesRequestSchema(options).parse({ ...ASK, tool_choice: { type: "any" } }), options, new AbortController().signal);
  assert.equal(any.toolChoice, "required");
});

test("bad tools, tool_choice and tool blocks are refused by name, 400 in Anthropic's shape", async () => {
  const served = await serve({}, { pipeline: new ScriptedPipeline(["x"]) });
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ tools: [{ name: "bad name", input_schema: { type: "object" } }] }, /^tools\.0\.name: expected 1 to 64 letters/],
    [{ tools: [{ name: "f" }] }, /^tools\.0\.input_schema: required/],
    [{ tools: [{ name: "f", input_schema: { type: "string" } }] }, /^tools\.0\.input_schema\.type: expected "object"/],
    [{ tools: [{ type: "web_search_20250305", name: "web_search" }] }, /^tools\.0\.type: server tools \("web_search_20250305"\) are not supported/],
    [{ tools: [{ ...TOOLS[0], cache_control: { type: "ephemeral" } }] }, /^tools\.0\.cache_control: prompt caching is not supported/],
    [{ tools: [TOOLS[0], TOOLS[0]] }, /^tools\.1\.name: a second tool named "get_weather"/],
    [{ tools: undefined, tool_choice: { type: "any" } }, /^tool_choice: needs tools/],
    [{ tool_choice: { type: "tool", name: "nope" } }, /^tool_choice\.name: names "nope", which is not one of the tools/],
    [{ tool_choice: { type: "tool" } }, /^tool_choice\.name: required with type "tool"/],
    [{ tool_choice: { type: "sometimes" } }, /^tool_choice\.type: expected/],
    [{ messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: [{ type: "image", source: {} }] }] }] }, /^messages\.0\.content\.0\.content\.0\.type: image blocks are not supported/],
    [{ messages: [{ role: "assistant", content: [{ type: "tool_use", id: "t", name: "f", input: "x" }] }, { role: "user", content: "x" }] }, /^messages\.0\.content\.0\.input: expected the tool's input \(an object\)/],
  ];
  try {
    for (const [fields, message] of cases) {
      const response = await served.post("/v1/messages", { ...ASK, ...fields });
      const body = await bodyOf(response);
      assert.equal(response.status, 400, JSON.stringify(fields));
      assert.equal(body.error.type, "invalid_request_error");
      assert.match(body.error.message, message, JSON.stringify(fields));
    }
    assert.equal(served.pipeline.requests.length, 0);
  } finally {
    await served.close();
  }
});
