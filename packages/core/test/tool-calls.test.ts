/** parseToolCalls / ToolCallParser: tool calls read out of a model's text, whole and streamed alike. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { newToolCallId, parseToolCalls, ToolCallParser, type ToolCallEvent, type ToolCallParserOptions } from "../src/index.js";

const hermes: ToolCallParserOptions = { format: "hermes", names: new Set(["get_weather", "add"]) };
const llama: ToolCallParserOptions = { format: "llama3_json", names: new Set(["get_weather"]) };

const call = (name: string, args: unknown) => `<tool_call>\n{"name": ${JSON.stringify(name)}, "arguments": ${JSON.stringify(args)}}\n</tool_call>`;

/** The text fed in pieces of `size` characters: the events, joined as the whole parse joins them. */
function streamed(text: string, options: ToolCallParserOptions, size: number) {
  const parser = new ToolCallParser(options);
  const events: ToolCallEvent[] = [];
  for (let i = 0; i < text.length; i += size) events.push(...parser.push(text.slice(i, i + size)));
  events.push(...parser.end());
  const calls = events.flatMap((event) => (event.kind === "call" ? [event.call] : []));
  const content = events.map((event) => (event.kind === "content" ? event.text : "")).join("");
  return { calls, content, events };
}

const shape = (calls: { function: { name: string; arguments: string } }[]) => calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]);

test("Hermes: one or more calls; content null when only calls; arguments as JSON text; ids call_…", () => {
  const text = `${call("get_weather", { city: "Paris", days: 3 })}\n${call("add", { a: 1, b: -2 })}`;
  const { content, calls } = parseToolCalls(text, hermes);
  assert.equal(content, null);
  assert.deepEqual(shape(calls), [
    ["get_weather", { city: "Paris", days: 3 }],
    ["add", { a: 1, b: -2 }],
  ]);
  for (const c of calls) {
    assert.match(c.id, /^call_[A-Za-z0-9]{24}$/);
    assert.equal(c.type, "function");
    assert.equal(typeof c.function.arguments, "string");
  }
  assert.notEqual(calls[0].id, calls[1].id);
  assert.notEqual(newToolCallId(), newToolCallId());
});

test("Hermes: text outside the calls is the content; whitespace around calls is not", () => {
  const { content, calls } = parseToolCalls(`Let me look.\n\n${call("get_weather", { city: "Tokyo" })}\n`, hermes);
  assert.equal(content, "Let me look.");
  assert.equal(calls.length, 1);
  assert.deepEqual(parseToolCalls("No calls here.\n", hermes), { content: "No calls here.\n", calls: [] });
});

test("Hermes: invalid, unknown, cut-off or surplus calls stay in the content as written", () => {
  const broken = '<tool_call>\n{"name": "get_weather", "arguments": {"city": }\n</tool_call>';
  assert.deepEqual(parseToolCalls(broken, hermes), { content: broken, calls: [] });
  const unknown = call("launch", {});
  assert.deepEqual(parseToolCalls(unknown, hermes), { content: unknown, calls: [] });
  const notObject = '<tool_call>\n{"name": "add", "arguments": [1, 2]}\n</tool_call>';
  assert.deepEqual(parseToolCalls(notObject, hermes), { content: notObject, calls: [] });
  const cut = `${call("add", { a: 1, b: 2 })}\n<tool_call>\n{"name": "add", "argu`;
  const parsed = parseToolCalls(cut, hermes);
  assert.equal(parsed.calls.length, 1);
  assert.equal(parsed.content, '\n<tool_call>\n{"name": "add", "argu');
  const two = `${call("add", { a: 1, b: 2 })}\n${call("add", { a: 3, b: 4 })}`;
  const one = parseToolCalls(two, { ...hermes, maxCalls: 1 });
  assert.equal(one.calls.length, 1);
  assert.equal(one.content, `\n${call("add", { a: 3, b: 4 })}`);
});

test("Hermes: streamed in pieces of any size, the same calls and content as the whole text", () => {
  const texts = [
    `Sure <tool_call is not a tag> ok.\n${call("get_weather", { city: "Paris", days: 2 })}\n${call("add", { a: 5, b: 6 })}\n`,
    `${call("add", { a: 1, b: 2 })} then text <tool_`,
    "plain text, no calls at all <",
    '<tool_call>\n{"name": "add", "arguments": {"a": 1}}\n</tool_call> after',
  ];
  for (const text of texts) {
    const whole = parseToolCalls(text, hermes);
    for (const size of [1, 2, 3, 7, 1000]) {
      const parts = streamed(text, hermes, size);
      assert.deepEqual(shape(parts.calls), shape(whole.calls), `${JSON.stringify(text)} in pieces of ${size}`);
      assert.equal(whole.content ?? "", parts.content, `${JSON.stringify(text)} in pieces of ${size}`);
    }
  }
});

test("Hermes streaming: text that may open a call is held back until decided", () => {
  const parser = new ToolCallParser(hermes);
  assert.deepEqual(parser.push("Hello <tool"), [{ kind: "content", text: "Hello" }]);
  assert.deepEqual(parser.push("box>"), [{ kind: "content", text: " <toolbox>" }]);
  assert.deepEqual(parser.push(" <tool_call>\n{\"name\": \"add\", "), []);
  const events = parser.push('"arguments": {"a": 2}}\n</tool_call>');
  assert.equal(events.length, 1);
  assert.equal(events[0].kind, "call");
  assert.deepEqual(parser.end(), []);
});

test("Llama 3 JSON: the reply as one {name, parameters} object (after <|python_tag|> or not); other text is content", () => {
  const a = parseToolCalls('{"name": "get_weather", "parameters": {"city": "Oslo"}}', llama);
  assert.equal(a.content, null);
  assert.deepEqual(shape(a.calls), [["get_weather", { city: "Oslo" }]]);
  const b = parseToolCalls('<|python_tag|>{"name": "get_weather", "parameters": {"city": "Rome"}}', llama);
  assert.deepEqual(shape(b.calls), [["get_weather", { city: "Rome" }]]);
  assert.deepEqual(parseToolCalls("It is sunny.", llama), { content: "It is sunny.", calls: [] });
  const partial = '{"name": "get_weather", "parameters": {"city": "Ro';
  assert.deepEqual(parseToolCalls(partial, llama), { content: partial, calls: [] });
  const unknown = '{"name": "other", "parameters": {}}';
  assert.deepEqual(parseToolCalls(unknown, llama), { content: unknown, calls: [] });
  for (const text of ['  {"name": "get_weather", "parameters": {"city": "Oslo"}}', "Plain {not a call}", '<|python_tag|>{"name": "get_weather", "parameters": {}}']) {
    const whole = parseToolCalls(text, llama);
    for (const size of [1, 4]) {
      const parts = streamed(text, llama, size);
      assert.deepEqual(shape(parts.calls), shape(whole.calls), text);
      assert.equal(whole.content ?? "", parts.content, text);
    }
  }
});
