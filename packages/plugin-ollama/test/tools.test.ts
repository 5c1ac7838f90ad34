/** Tools on /api/chat with a pipeline that writes a scripted reply: the calls read out of it, streamed and whole, and what reaches the pipeline. */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { GenerateRequest, GenerationEvent } from "@modelnode/core";
import { FakePipeline } from "@modelnode/testing";
import { MODELS, ndjson, post, serve } from "./support.js";

/** Writes `pieces` as its reply (one text event each), whatever it is asked. */
class ScriptedPipeline extends FakePipeline {
  constructor(private readonly pieces: string[]) {
    super([...MODELS, { id: "tooly", contextLength: 4096, vocabSize: 128, architecture: "fake", hasChatTemplate: true, toolCallFormat: "hermes" }]);
  }
  override async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    this.requests.push(request);
    for (const text of this.pieces) yield { kind: "text", text };
    yield { kind: "done", result: { text: this.pieces.join(""), finishReason: "stop", usage: { promptTokens: 5, completionTokens: this.pieces.length } } };
  }
}

const CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n</tool_call>';
const TOOLS = [{ type: "function", function: { name: "get_weather", description: "The weather", parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } } } } }];
const QUESTION = [{ role: "user", content: "Weather in Paris?" }];

test("streamed: content as it comes, then each call whole in a message of its own (arguments an object), then done", async () => {
  const { base, close } = await serve({}, new ScriptedPipeline(["Let me look.", CALL.slice(0, 20), CALL.slice(20), "\n"]));
  try {
    const lines = ndjson(await (await post(`${base}/api/chat`, { model: "tooly", messages: QUESTION, tools: TOOLS })).text());
    const messages = lines.map((line) => line.message as { content: string; tool_calls?: { id: string; function: unknown }[] });
    assert.deepEqual(messages.map((m) => m.content), ["Let me look.", "", ""]);
    assert.deepEqual(messages[1].tool_calls?.map((call) => call.function), [{ index: 0, name: "get_weather", arguments: { city: "Paris", days: 3 } }]);
    assert.match(messages[1].tool_calls![0].id, /^call_/);
    assert.equal(messages[2].tool_calls, undefined);
    assert.deepEqual(lines.map((line) => line.done), [false, false, true]);
    assert.equal(lines[2].done_reason, "stop");
  } finally {
    await close();
  }
});

test("whole: the message carries the content and every call; without tools (or tool_choice none) the text stays as written", async () => {
  const { base, pipeline, close } = await serve({}, new ScriptedPipeline(["Sure. ", CALL, CALL.replace("Paris", "Lima")]));
  try {
    const whole = (await (await post(`${base}/api/chat`, { model: "tooly", messages: QUESTION, tools: TOOLS, stream: false })).json()) as { message: { content: string; tool_calls: { function: { name: string; arguments: unknown } }[] } };
    assert.equal(whole.message.content, "Sure.");
    assert.deepEqual(whole.message.tool_calls.map((call) => call.function.arguments), [{ city: "Paris", days: 3 }, { city: "Lima", days: 3 }]);
    for (const body of [{ model: "tooly", messages: QUESTION, stream: false }, { model: "tooly", messages: QUESTION, tools: TOOLS, tool_choice: "none", stream: false }]) {
      const plain = (await (await post(`${base}/api/chat`, body)).json()) as { message: Record<string, unknown> };
      assert.deepEqual(plain.message, { role: "assistant", content: `Sure. ${CALL}${CALL.replace("Paris", "Lima")}` });
    }
    assert.deepEqual(pipeline.requests[0].tools, [{ type: "function", function: TOOLS[0].function }]);
    assert.equal(pipeline.requests[0].toolChoice, undefined, 'absent: the pipeline\'s "auto"');
    assert.equal(pipeline.requests[2].toolChoice, "none");
  } finally {
    await close();
  }
});

test("the history reaches the chat template: assistant calls get ids, tool turns the id of the call they answer (by tool_name, else in order)", async () => {
  const { base, pipeline, close } = await serve({}, new ScriptedPipeline(["ok"]));
  try {
    const history = [
      ...QUESTION,
      { role: "assistant", content: "", tool_calls: [{ function: { name: "get_weather", arguments: { city: "Paris" } } }, { id: "call_own", function: { name: "add", arguments: { a: 1 } } }] },
      { role: "tool", tool_name: "add", content: "2" },
      { role: "tool", content: "sunny" },
    ];
    const res = await post(`${base}/api/chat`, { model: "tooly", messages: history, tools: TOOLS, tool_choice: { type: "function", function: { name: "get_weather" } }, stream: false });
    assert.equal(res.status, 200, await res.clone().text());
    const { messages, toolChoice } = pipeline.requests[0];
    assert.deepEqual(messages?.[1].tool_calls, [
      { id: "call_1_0", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
      { id: "call_own", type: "function", function: { name: "add", arguments: '{"a":1}' } },
    ]);
    assert.deepEqual(messages?.slice(2), [{ role: "tool", content: "2", tool_call_id: "call_own" }, { role: "tool", content: "sunny", tool_call_id: "call_1_0" }]);
    assert.deepEqual(toolChoice, { type: "function", function: { name: "get_weather" } });
  } finally {
    await close();
  }
});
