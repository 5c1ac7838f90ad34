/** POST /v1/responses through the official openai SDK, on a FakePipeline (which renders chats as "role: content" lines). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { eventually, FakePipeline, sleep } from "@modelnode/testing";
import { errors, type GenerateRequest, type GenerationEvent, type ModelInfo } from "@modelnode/core";
import { postJson, serve } from "./support.js";

const BIG: ModelInfo = { id: "fake", contextLength: 1024, vocabSize: 128 };

/** A FakePipeline whose model writes Hermes-style tool calls: each generation streams `pieces`. */
class ScriptedPipeline extends FakePipeline {
  constructor(private readonly pieces: string[]) {
    super([{ ...BIG, toolCallFormat: "hermes" }]);
  }
  override async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    this.requests.push(request);
    for (const text of this.pieces) yield { kind: "text", text };
    yield { kind: "done", result: { text: this.pieces.join(""), finishReason: "stop", usage: { promptTokens: 7, completionTokens: this.pieces.length } } };
  }
}

const CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';
const TOOLS = [{ type: "function" as const, name: "get_weather", description: "The weather", parameters: { type: "object", properties: { city: { type: "string" } } }, strict: true }];

test("a response: the message as one output_text, status, usage, the request's settings echoed; SDK's output_text", async () => {
  const { client, pipeline, close } = await serve({}, { pipeline: new FakePipeline([BIG]) });
  try {
    const response = await client.responses.create({ model: "fake", input: "Hi", instructions: "Be brief.", max_output_tokens: 2, temperature: 0.5, metadata: { run: "1" } });
    assert.match(response.id, /^resp_[0-9a-f]{32}$/);
    assert.equal(response.object, "response");
    assert.equal(response.status, "incomplete");
    assert.deepEqual(response.incomplete_details, { reason: "max_output_tokens" });
    assert.equal(response.output.length, 1);
    const [message] = response.output;
    assert.equal(message.type, "message");
    assert.ok(message.type === "message" && message.role === "assistant" && /^msg_/.test(message.id));
    assert.deepEqual(message.type === "message" && message.content, [{ type: "output_text", text: "w0 w1 ", annotations: [] }]);
    assert.equal(response.output_text, "w0 w1 ");
    assert.equal(response.instructions, "Be brief.");
    assert.equal(response.max_output_tokens, 2);
    assert.equal(response.temperature, 0.5);
    assert.deepEqual(response.metadata, { run: "1" });
    const messages = [
      { role: "system" as const, content: "Be brief." },
      { role: "user" as const, content: "Hi" },
    ];
    const promptTokens = FakePipeline.promptOf({ messages }).length;
    assert.deepEqual(response.usage, { input_tokens: promptTokens, input_tokens_details: { cached_tokens: 0 }, output_tokens: 2, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: promptTokens + 2 });
    const { signal, ...request } = pipeline.requests[0];
    assert.ok(signal instanceof AbortSignal);
    assert.deepEqual(request, { modelId: "fake", messages, maxTokens: 2, temperature: 0.5 });

    // Stopped by a stop string: completed.
    const stopped = await client.responses.create({ model: "fake", input: "Hi", max_output_tokens: 8, stop: ["w2"] } as never);
    assert.equal(stopped.status, "completed");
    assert.equal(stopped.incomplete_details, null);
    assert.equal(stopped.output_text, "w0 w1 ");
  } finally {
    await close();
  }
});

test("input items become the chat: messages of every role, text parts, function calls joined to their assistant turn, their outputs as tool turns; reasoning items skipped", async () => {
  const { client, pipeline, close } = await serve({}, { pipeline: new FakePipeline([BIG]) });
  try {
    await client.responses.create({
      model: "fake",
      instructions: "Rules.",
      max_output_tokens: 1,
      input: [
        { role: "developer", content: "Dev note." },
        { role: "user", content: [{ type: "input_text", text: "Weather" }, { type: "input_text", text: "in Paris?" }] },
        { type: "reasoning", id: "rs_1", summary: [] },
        { type: "message", role: "assistant", id: "msg_1", status: "completed", content: [{ type: "output_text", text: "Let me look.", annotations: [] }] },
        { type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' },
        { type: "function_call", call_id: "call_2", name: "get_time", arguments: "{}" },
        { type: "function_call_output", call_id: "call_1", output: "sunny" },
        { type: "function_call_output", call_id: "call_2", output: "noon" },
        { type: "function_call", call_id: "call_3", name: "get_weather", arguments: '{"city":"Lima"}' },
        { type: "function_call_output", call_id: "call_3", output: "rain" },
      ],
    } as never);
    const call = (id: string, name: string, args: string) => ({ id, type: "function", function: { name, arguments: args } });
    assert.deepEqual(pipeline.requests[0].messages, [
      { role: "system", content: "Rules." },
      { role: "system", content: "Dev note." },
      { role: "user", content: "Weather\nin Paris?" },
      { role: "assistant", content: "Let me look.", tool_calls: [call("call_1", "get_weather", '{"city":"Paris"}'), call("call_2", "get_time", "{}")] },
      { role: "tool", content: "sunny", tool_call_id: "call_1" },
      { role: "tool", content: "noon", tool_call_id: "call_2" },
      { role: "assistant", content: "", tool_calls: [call("call_3", "get_weather", '{"city":"Lima"}')] },
      { role: "tool", content: "rain", tool_call_id: "call_3" },
    ]);
  } finally {
    await close();
  }
});

test("a streamed response: the typed events in order, numbered; the deltas add up to the completed response's text", async () => {
  const { client, close } = await serve({}, { pipeline: new FakePipeline([BIG]) });
  try {
    const stream = await client.responses.create({ model: "fake", input: "Hi", max_output_tokens: 3, stream: true });
    const events = [];
    for await (const event of stream) events.push(event);
    assert.deepEqual(
      events.map((e) => e.type),
      [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.incomplete",
      ],
    );
    assert.deepEqual(
      events.map((e) => e.sequence_number),
      events.map((_, i) => i),
    );
    const deltas = events.flatMap((e) => (e.type === "response.output_text.delta" ? [e.delta] : []));
    assert.equal(deltas.join(""), "w0 w1 w2 ");
    const last = events[events.length - 1];
    assert.ok(last.type === "response.incomplete");
    assert.equal(last.response.output_text ?? last.response.output.flatMap((item) => (item.type === "message" ? item.content.map((c) => (c.type === "output_text" ? c.text : "")) : [])).join(""), "w0 w1 w2 ");
    assert.equal(last.response.usage?.output_tokens, 3);
    const created = events[0];
    assert.ok(created.type === "response.created" && created.response.status === "in_progress" && created.response.id === last.response.id);

    // The SDK's stream helper checks the events' order and assembles the same response.
    const helper = client.responses.stream({ model: "fake", input: "Hi", max_output_tokens: 3 });
    const final = await helper.finalResponse();
    assert.equal(final.output_text, "w0 w1 w2 ");
    assert.equal(final.status, "incomplete");
  } finally {
    await close();
  }
});

test("event names: each server-sent event's `event:` line is its type; no [DONE]", async () => {
  const { base, close } = await serve({}, { pipeline: new FakePipeline([BIG]) });
  try {
    const res = await postJson(`${base}/v1/responses`, { model: "fake", input: "Hi", max_output_tokens: 1, stream: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const blocks = (await res.text()).split("\n\n").filter(Boolean);
    for (const block of blocks) {
      const [eventLine, dataLine] = block.split("\n");
      const data = JSON.parse(dataLine.slice("data: ".length));
      assert.equal(eventLine, `event: ${data.type}`);
    }
    assert.ok(!blocks.some((block) => block.includes("[DONE]")));
  } finally {
    await close();
  }
});

test("tool calls: function_call items (whole and streamed), the tools reach the pipeline in its shape, the named choice too", async () => {
  const pipeline = new ScriptedPipeline(["I will check. ", CALL.slice(0, 20), CALL.slice(20)]);
  const { client, close } = await serve({}, { pipeline });
  try {
    const response = await client.responses.create({ model: "fake", input: "Weather in Paris?", tools: TOOLS });
    assert.equal(response.status, "completed");
    assert.equal(response.output.length, 2);
    const [message, call] = response.output;
    assert.ok(message.type === "message");
    assert.deepEqual(message.content, [{ type: "output_text", text: "I will check.", annotations: [] }]);
    assert.ok(call.type === "function_call");
    assert.equal(call.name, "get_weather");
    assert.deepEqual(JSON.parse(call.arguments), { city: "Paris" });
    assert.match(call.call_id, /^call_/);
    assert.match(call.id ?? "", /^fc_/);
    assert.deepEqual(pipeline.requests[0].tools, [{ type: "function", function: { name: "get_weather", description: "The weather", parameters: TOOLS[0].parameters } }]);
    assert.deepEqual(response.tools, [{ ...TOOLS[0] }]);

    const stream = await client.responses.create({ model: "fake", input: "Weather?", tools: TOOLS, tool_choice: { type: "function", name: "get_weather" }, stream: true });
    const events = [];
    for await (const event of stream) events.push(event);
    assert.deepEqual(pipeline.requests[1].toolChoice, { type: "function", function: { name: "get_weather" } });
    const types = events.map((e) => e.type);
    assert.deepEqual(types.slice(-5), ["response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done", "response.output_item.done", "response.completed"]);
    const done = events.find((e) => e.type === "response.function_call_arguments.done");
    assert.ok(done?.type === "response.function_call_arguments.done");
    assert.deepEqual(JSON.parse(done.arguments), { city: "Paris" });
    const completed = events[events.length - 1];
    assert.ok(completed.type === "response.completed");
    assert.deepEqual(
      completed.response.output.map((item) => item.type),
      ["message", "function_call"],
    );
    const added = events.find((e) => e.type === "response.output_item.added" && e.item.type === "function_call");
    assert.ok(added?.type === "response.output_item.added" && added.item.type === "function_call" && added.item.arguments === "");
  } finally {
    await close();
  }
});

test("log probabilities with include: per token in output_text.logprobs, and on each delta", async () => {
  const { client, pipeline, close } = await serve({}, { pipeline: new FakePipeline([BIG]) });
  try {
    const response = await client.responses.create({ model: "fake", input: "Hi", max_output_tokens: 2, include: ["message.output_text.logprobs"], top_logprobs: 2 });
    assert.equal(pipeline.requests[0].logprobs, 2);
    const message = response.output[0];
    assert.ok(message.type === "message" && message.content[0].type === "output_text");
    const logprobs = message.content[0].logprobs ?? [];
    assert.deepEqual(
      logprobs.map((entry) => [entry.token, entry.logprob, entry.top_logprobs.map((top) => top.token)]),
      [
        ["w0 ", -0.1, ["w0 ", "alt1"]],
        ["w1 ", -0.2, ["w1 ", "alt1"]],
      ],
    );
    const stream = await client.responses.create({ model: "fake", input: "Hi", max_output_tokens: 2, include: ["message.output_text.logprobs"], stream: true });
    const deltas = [];
    for await (const event of stream) if (event.type === "response.output_text.delta") deltas.push(event.logprobs.map((entry) => entry.token));
    assert.deepEqual(deltas, [["w0 "], ["w1 "]]);
  } finally {
    await close();
  }
});

test("text.format json_schema: the pipeline gets the grammar", async () => {
  const { client, pipeline, close } = await serve({}, { pipeline: new FakePipeline([BIG]) });
  try {
    const schema = { type: "object", properties: { a: { type: "integer" } }, required: ["a"] };
    const response = await client.responses.create({ model: "fake", input: "JSON please", max_output_tokens: 1, text: { format: { type: "json_schema", name: "thing", schema, strict: true } } });
    assert.deepEqual(pipeline.requests[0].grammar, { type: "json_schema", schema, strict: true });
    assert.deepEqual(response.text?.format, { type: "json_schema", name: "thing", schema, strict: true });
    await client.responses.create({ model: "fake", input: "JSON please", max_output_tokens: 1, text: { format: { type: "json_object" } } });
    assert.deepEqual(pipeline.requests[1].grammar, { type: "json_object" });
    // With tools too (an agent with an output type): both reach the pipeline, which lets the reply call or answer in the format.
    await client.responses.create({ model: "fake", input: "JSON please", max_output_tokens: 1, tools: TOOLS, text: { format: { type: "json_schema", name: "thing", schema } } });
    assert.deepEqual(pipeline.requests[2].grammar, { type: "json_schema", schema });
    assert.equal(pipeline.requests[2].tools?.length, 1);
  } finally {
    await close();
  }
});

test("what this node cannot do is a 400 naming the field; unknown models are 404; the node stays up", async () => {
  const { base, client, close } = await serve({}, { pipeline: new FakePipeline([BIG]) });
  try {
    const cases: [unknown, string, RegExp][] = [
      [{ model: "fake" }, "input", /required/],
      [{ model: "fake", input: [] }, "input", /at least one item/],
      [{ model: "fake", input: [{ role: "user", content: [{ type: "input_image", image_url: "http://x" }] }] }, "input[0].content[0].type", /only text content parts/],
      [{ model: "fake", input: [{ type: "web_search_call", id: "x" }] }, "input[0].type", /not supported/],
      [{ model: "fake", input: [{ type: "item_reference", id: "x" }] }, "input[0].type", /send the items themselves/],
      [{ model: "fake", input: [{ type: "function_call", name: "f", arguments: "{}" }] }, "input[0].call_id", /required/],
      [{ model: "fake", input: [{ role: "robot", content: "x" }] }, "input[0].role", /expected one of/],
      [{ model: "fake", input: "x", previous_response_id: "resp_1" }, "previous_response_id", /Response with id 'resp_1' not found/],
      [{ model: "fake", input: "x", background: true }, "background", /not supported/],
      [{ model: "fake", input: "x", tools: [{ type: "web_search" }] }, "tools[0].type", /only function tools/],
      [{ model: "fake", input: "x", tool_choice: "required" }, "tool_choice", /needs tools/],
      [{ model: "fake", input: "x", max_output_tokens: 0 }, "max_output_tokens", /integer from 1/],
      [{ model: "fake", input: "x", top_logprobs: 3 }, "top_logprobs", /needs include/],
      [{ model: "fake", input: "x", include: ["everything"] }, "include[0]", /not a known include/],
      [{ model: "fake", input: "x", text: { format: { type: "json_schema" } } }, "text.format.name", /./],
    ];
    for (const [body, param, message] of cases) {
      const res = await postJson(`${base}/v1/responses`, body);
      const json = (await res.json()) as { error: { param: string; message: string; type: string } };
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(json.error.type, "invalid_request_error");
      assert.equal(json.error.param, param, JSON.stringify(json));
      assert.match(json.error.message, message);
    }
    await assert.rejects(client.responses.create({ model: "nope", input: "x" }), (error: { status?: number; code?: string }) => error.status === 404 && error.code === "model_not_found");
    const ok = await client.responses.create({ model: "fake", input: "still here", max_output_tokens: 1 });
    assert.equal(ok.output_text, "w0 ");
  } finally {
    await close();
  }
});

test("a failure after the stream began: an error event, then response.failed", async () => {
  class Failing extends FakePipeline {
    override async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
      this.requests.push(request);
      yield { kind: "text", text: "partial " };
      throw errors.busy("The engine stopped.");
    }
  }
  const { client, close } = await serve({}, { pipeline: new Failing([BIG]) });
  try {
    const stream = await client.responses.create({ model: "fake", input: "Hi", stream: true });
    const events = [];
    for await (const event of stream) events.push(event);
    assert.deepEqual(
      events.map((e) => e.type),
      ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added", "response.output_text.delta", "error", "response.failed"],
    );
    const error = events[5];
    assert.ok(error.type === "error");
    assert.equal(error.code, "busy");
    assert.equal(error.message, "The engine stopped.");
    const failed = events[6];
    assert.ok(failed.type === "response.failed");
    assert.equal(failed.response.status, "failed");
    assert.deepEqual(failed.response.error, { code: "busy", message: "The engine stopped." });
    // The node is still up.
    assert.equal((await client.models.list()).data.length, 1);
  } finally {
    await close();
  }
});

test("a client that leaves a streamed response, or a whole one, cancels its generation; the counters come back to 0", async () => {
  const { client, base, pipeline, node, close } = await serve({}, { pipeline: new FakePipeline([BIG]) });
  pipeline.tokenDelay = () => sleep(10);
  try {
    const stream = await client.responses.create({ model: "fake", input: "Hi", max_output_tokens: 1000, stream: true });
    for await (const event of stream) if (event.type === "response.output_text.delta") break; // the SDK aborts its request
    await eventually(() => pipeline.generationsInFlight === 0, "the streamed generation to stop");
    assert.equal(pipeline.requests[0].signal?.aborted, true);

    const controller = new AbortController();
    const whole = postJsonWith(`${base}/v1/responses`, { model: "fake", input: "Hi", max_output_tokens: 1000 }, controller.signal);
    await eventually(() => pipeline.generationsInFlight === 1, "the whole one to start");
    controller.abort();
    await whole.catch(() => undefined);
    await eventually(() => pipeline.generationsInFlight === 0, "the whole one to stop");
    await eventually(() => node.getStats().in_flight === 0, "the requests to end");
    const stats = node.getStats().openai as { in_flight: number; finish_reasons: Record<string, number> };
    assert.deepEqual([stats.in_flight, stats.finish_reasons.cancelled], [0, 2]);
  } finally {
    await close();
  }
});

const postJsonWith = (url: string, body: unknown, signal: AbortSignal) => fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal });

test("kept responses: previous_response_id continues the conversation (not its instructions), whole or streamed; GET and DELETE reach them; store: false keeps none", async () => {
  const pipeline = new ScriptedPipeline(["Checking. ", CALL]);
  const { client, base, node, close } = await serve({}, { pipeline });
  try {
    const first = await client.responses.create({ model: "fake", instructions: "Be brief.", input: "Weather in Paris?", tools: TOOLS });
    assert.equal((first as unknown as { store: boolean }).store, true);
    const call = first.output.find((item) => item.type === "function_call");
    assert.ok(call?.type === "function_call");
    // The tool's output, and nothing else of the conversation: the node holds the rest.
    const second = await client.responses.create({ model: "fake", previous_response_id: first.id, instructions: "Now answer.", input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny" }], stream: true });
    let secondId = "";
    for await (const event of second) if (event.type === "response.completed") secondId = event.response.id;
    assert.deepEqual(pipeline.requests[1].messages, [
      { role: "system", content: "Now answer." },
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: "Checking.", tool_calls: [{ id: call.call_id, type: "function", function: { name: "get_weather", arguments: call.arguments } }] },
      { role: "tool", content: "sunny", tool_call_id: call.call_id },
    ]);
    // A chain: the third sees both earlier turns (the streamed one kept as well).
    const third = await client.responses.create({ model: "fake", previous_response_id: secondId, input: "Thanks." });
    assert.equal(third.previous_response_id, secondId);
    assert.equal(pipeline.requests[2].messages?.length, 5);
    assert.equal(pipeline.requests[2].messages?.[4].content, "Thanks.");

    const retrieved = await client.responses.retrieve(first.id);
    assert.deepEqual(retrieved.output, first.output);
    assert.equal((node.getStats().openai_responses as { stored_responses: number }).stored_responses, 3);
    const deleted = await fetch(`${base}/v1/responses/${first.id}`, { method: "DELETE" });
    assert.deepEqual(await deleted.json(), { id: first.id, object: "response", deleted: true });
    await assert.rejects(client.responses.retrieve(first.id), (error: { status?: number; code?: string }) => error.status === 404 && error.code === "not_found");
    await assert.rejects(client.responses.create({ model: "fake", previous_response_id: first.id, input: "x" }), (error: { status?: number; param?: string }) => error.status === 400 && error.param === "previous_response_id");

    const unkept = await client.responses.create({ model: "fake", input: "x", store: false });
    assert.equal((unkept as unknown as { store: boolean }).store, false);
    await assert.rejects(client.responses.retrieve(unkept.id), (error: { status?: number }) => error.status === 404);
  } finally {
    await close();
  }
});

test("the store's bounds: the least recently used response goes first past maxStoredResponses; 0 keeps none", async () => {
  const { client, close } = await serve({ maxStoredResponses: 2 }, { pipeline: new FakePipeline([BIG]) });
  try {
    const ids = [];
    for (let i = 0; i < 2; i++) ids.push((await client.responses.create({ model: "fake", input: `q${i}`, max_output_tokens: 1 })).id);
    await client.responses.retrieve(ids[0]); // now the most recently used
    ids.push((await client.responses.create({ model: "fake", input: "q2", max_output_tokens: 1 })).id);
    await client.responses.retrieve(ids[0]);
    await client.responses.retrieve(ids[2]);
    await assert.rejects(client.responses.retrieve(ids[1]), (error: { status?: number }) => error.status === 404);
  } finally {
    await close();
  }
  const none = await serve({ maxStoredResponses: 0 }, { pipeline: new FakePipeline([BIG]) });
  try {
    const response = await none.client.responses.create({ model: "fake", input: "x", max_output_tokens: 1 });
    assert.equal((response as unknown as { store: boolean }).store, false);
    await assert.rejects(none.client.responses.create({ model: "fake", previous_response_id: response.id, input: "y" }), (error: { message?: string }) => /keeps no responses/.test(error.message ?? ""));
  } finally {
    await none.close();
  }
});
