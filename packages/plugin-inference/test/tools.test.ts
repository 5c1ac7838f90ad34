/**
 * inference_request with tools: the fields reach the pipeline in its names; the reply's text is
 * read for calls in the model's format (tool_calls, text outside them, finish_reason
 * "tool_calls"), whole and streamed alike (a chunk per call, every frame as declared); malformed
 * tools are VALIDATION_FAILED naming the field.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { GenerateRequest, GenerationEvent } from "@modelnode/core";
import { pipelinePlugin } from "@modelnode/core/server";
import { FakePipeline } from "@modelnode/testing";
import { inferencePlugin } from "../src/index.js";
import { nodeWith, send } from "./harness.js";

const CALL = '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>';
const TEXT = `Adding.\n${CALL}\n<tool_call>\n{"name": "nope", "arguments": {}}\n</tool_call>`;

/** Writes TEXT in pieces of 5 characters, as a Hermes-format model. */
class ToolPipeline extends FakePipeline {
  constructor() {
    super([{ id: "hermes", contextLength: 256, vocabSize: 128, toolCallFormat: "hermes" }]);
  }
  override async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    this.requests.push(request);
    for (let i = 0; i < TEXT.length; i += 5) yield { kind: "text", text: TEXT.slice(i, i + 5) };
    yield { kind: "done", result: { text: TEXT, finishReason: "stop", usage: { promptTokens: 3, completionTokens: 40 } } };
  }
}

const TOOLS = [{ type: "function", function: { name: "add", parameters: { type: "object", properties: { a: { type: "integer" }, b: { type: "integer" } } } } }];
const MESSAGES = [
  { role: "user", content: "1+2?" },
  { role: "assistant", content: "", tool_calls: [{ id: "call_0", type: "function", function: { name: "add", arguments: '{"a":0,"b":0}' } }] },
  { role: "tool", content: "0", tool_call_id: "call_0" },
];

test("tools reach the pipeline; the reply holds the calls, the text outside them, finish_reason tool_calls; streamed the same", async () => {
  const pipeline = new ToolPipeline();
  const node = await nodeWith([inferencePlugin(), pipelinePlugin(pipeline)]);
  const request = { model_id: "hermes", messages: MESSAGES, tools: TOOLS, tool_choice: "required", parallel_tool_calls: false };
  const payloads = async (payload: unknown) => (await send(node, "inference_request", payload)).map((frame: any) => frame.payload);
  const [whole] = await payloads(request);
  const sent = pipeline.requests.at(-1)!;
  assert.deepEqual(sent.tools, TOOLS);
  assert.equal(sent.toolChoice, "required");
  assert.equal(sent.parallelToolCalls, false);
  assert.deepEqual(sent.messages![1].tool_calls, MESSAGES[1].tool_calls);
  assert.equal(sent.messages![2].tool_call_id, "call_0");
  assert.equal(whole.finish_reason, "tool_calls");
  assert.deepEqual(whole.tool_calls.map((call: any) => call.function), [{ name: "add", arguments: '{"a":1,"b":2}' }]);
  assert.match(whole.tool_calls[0].id, /^call_[A-Za-z0-9]{24}$/);
  // The unknown function's block stays text.
  assert.equal(whole.text, 'Adding.\n<tool_call>\n{"name": "nope", "arguments": {}}\n</tool_call>');

  const frames = await payloads({ ...request, stream: true });
  const final = frames.at(-1);
  const chunks = frames.slice(0, -1);
  assert.deepEqual(chunks.filter((chunk) => chunk.tool_call).map((chunk) => [chunk.tool_call.index, chunk.tool_call.function, chunk.text]), [[0, { name: "add", arguments: '{"a":1,"b":2}' }, ""]]);
  assert.equal(chunks.map((chunk) => chunk.text).join(""), final.text);
  assert.equal(final.text, whole.text);
  assert.equal(final.finish_reason, "tool_calls");
  assert.deepEqual(chunks.map((chunk) => chunk.index), chunks.map((_, i) => i));

  // tool_choice "none": the text as it is.
  const [none] = await payloads({ ...request, tool_choice: "none" });
  assert.equal(none.text, TEXT);
  assert.equal(none.tool_calls, undefined);
  assert.equal(none.finish_reason, "stop");
  await node.close();
});

test("malformed tools are VALIDATION_FAILED naming the field, never a crash", async () => {
  const node = await nodeWith([inferencePlugin(), pipelinePlugin(new ToolPipeline())]);
  const base = { model_id: "hermes", messages: [{ role: "user", content: "x" }] };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ tools: "add" }, /tools/],
    [{ tools: [{ type: "function" }], tool_choice: { type: "function", function: { name: "add" } } }, /tools/],
    [{ tools: [null], tool_choice: { type: "function" } }, /tools/],
    [{ tool_choice: "required" }, /tool_choice/],
    [{ tools: TOOLS, tool_choice: { type: "function", function: { name: "sub" } } }, /tool_choice/],
    [{ tools: TOOLS, messages: undefined, prompt: "x" }, /tools/],
  ];
  for (const [fields, field] of cases) {
    await assert.rejects(send(node, "inference_request", { ...base, ...fields }), (error: any) => {
      assert.equal(error.code, "VALIDATION_FAILED", JSON.stringify(fields));
      assert.match(JSON.stringify(error.details ?? error.message), field, JSON.stringify(fields));
      return true;
    });
  }
  await node.close();
});
