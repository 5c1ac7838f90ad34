// Tool use through Anthropic's Messages API, end to end: the example node serving the Qwen3-shaped
// fixture (real Qwen3 tokenizer and chat template, random weights), asked through the official
// @anthropic-ai/sdk. tool_choice "any" / "tool" make the random-weight model write tool_use blocks
// whose input validates against the tool's input_schema (ajv); the SDK's stream helpers assemble
// the same blocks from input_json_delta; tool_result blocks go back rendered as the OpenAI door's
// tool messages are (same prompt tokens), and count_tokens counts the tools.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import type { ModelNode } from "@modelnode/core/server";
import { eventuallyIdle } from "./support/node.js";
import { ADD, assertValidCall as assertValid, QUESTION, QWEN3 as MODEL, startQwen3Node, WEATHER } from "./support/tool-fixture.js";

let node: ModelNode;
let close: () => Promise<void>;
let anthropic: Anthropic;
let openai: OpenAI;

before(async () => {
  let base: string;
  ({ node, base, close } = await startQwen3Node("e2e-anthropic-tools"));
  anthropic = new Anthropic({ baseURL: base, apiKey: "x", maxRetries: 0 });
  openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "x", maxRetries: 0 });
});
after(() => close?.());

const ANTHROPIC_TOOLS: Anthropic.Tool[] = [
  { name: "get_weather", description: "The weather in a city, for some days", input_schema: WEATHER },
  { name: "add", input_schema: ADD },
];

test("Anthropic: tool_choice any / tool give tool_use blocks (toolu_ ids, input valid for the tool), stop_reason tool_use", async () => {
  // Anthropic's API has no seed: each reply samples afresh, constrained all the same. At once, to share batches.
  const choices = [{ type: "any" }, { type: "any", disable_parallel_tool_use: true }, { type: "tool", name: "add" }] as const;
  const messages = await Promise.all(
    choices.map((tool_choice) => anthropic.messages.create({ model: MODEL, max_tokens: 100, messages: [{ role: "user", content: QUESTION }], tools: ANTHROPIC_TOOLS, tool_choice, ...({ temperature: 1 } as object) })),
  );
  for (const [i, tool_choice] of choices.entries()) {
    const message = messages[i];
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
  const request = { model: MODEL, max_tokens: 100, messages: [{ role: "user" as const, content: QUESTION }], tools: ANTHROPIC_TOOLS, tool_choice: { type: "any" as const, disable_parallel_tool_use: true }, ...({ temperature: 0 } as object) };
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
  assert.equal(startTokens, promptOf(whole.usage), "message_start counts the tools the template renders");
  for (const [name, input] of uses(final)) assertValid(name as string, input);
});

test("Anthropic: tool_result blocks go back through the template as OpenAI's tool messages do; auto writes text; none renders no tools", async () => {
  const first = await anthropic.messages.create({ model: MODEL, max_tokens: 100, messages: [{ role: "user", content: QUESTION }], tools: ANTHROPIC_TOOLS, tool_choice: { type: "tool", name: "get_weather" }, ...({ temperature: 1 } as object) });
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
  assert.equal(promptOf(final.usage), peer.usage?.prompt_tokens);
  const counted = await anthropic.messages.countTokens({ model: MODEL, messages, tools: ANTHROPIC_TOOLS });
  assert.equal(counted.input_tokens, promptOf(final.usage), "count_tokens counts the tools too");
  const none = await anthropic.messages.create({ model: MODEL, max_tokens: 1, messages, tools: ANTHROPIC_TOOLS, tool_choice: { type: "none" } });
  assert.ok(promptOf(none.usage) < promptOf(final.usage), 'tool_choice "none" does not render the tools');
  await eventuallyIdle(node);
});

/** The whole prompt: Anthropic's input_tokens count what follows the prefix cache's part (cache_read_input_tokens). */
function promptOf(usage: { input_tokens: number; cache_read_input_tokens?: number | null }): number {
  return usage.input_tokens + (usage.cache_read_input_tokens ?? 0);
}
