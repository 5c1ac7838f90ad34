// The Ollama API of the example node, end to end: the official ollama npm client against the real
// ONNX pipeline on the bundled tiny model (random weights: its text is gibberish, compared
// exactly with what the WebSocket inference_request answers for the same prompt and settings).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Ollama } from "ollama";
import { Ajv } from "ajv";
import type { ModelNode } from "@modelnode/core/server";
import { hashLicenseKey } from "@modelnode/plugin-auth";
import { eventuallyIdle, inferenceOverWebSocket, startNode } from "./support/node.js";

let node: ModelNode;
let url: string;
let base: string;
let ollama: Ollama;

before(async () => {
  let port: number;
  ({ node, url, port } = await startNode({ nodeId: "e2e-ollama" }));
  base = `http://127.0.0.1:${port}`;
  ollama = new Ollama({ host: base });
});
after(() => node.close());

const viaWebSocket = (payload: Record<string, unknown>) => inferenceOverWebSocket(url, payload);

test("list, ps, show and version describe the served model", async () => {
  const list = await ollama.list();
  assert.deepEqual(list.models.map((m) => [m.name, m.model, m.details.family, m.details.format]), [["tiny-gpt2", "tiny-gpt2", "gpt2", "onnx"]]);
  const ps = await ollama.ps();
  assert.deepEqual(ps.models.map((m) => m.name), ["tiny-gpt2"]);
  const show = await ollama.show({ model: "tiny-gpt2" });
  const info = show.model_info as unknown as Record<string, unknown>;
  assert.equal(info["general.architecture"], "gpt2");
  assert.equal(info["gpt2.context_length"], 1024);
  assert.equal(info["gpt2.vocab_size"], 50257);
  assert.deepEqual(show.capabilities, ["completion", "tools"], "tools listed in a system preamble (the model's template has none)");
  assert.match(show.parameters, /^num_predict 64$/m);
  const { version } = await ollama.version();
  assert.match(version, /^\d+\.\d+\.\d+/);
});

test("greedy /api/generate gives exactly the WebSocket inference_request's text and token counts, whole and streamed", async () => {
  for (const [prompt, maxTokens] of [["Hello, world!", 8], ["Once upon a time", 16]] as const) {
    const ws = await viaWebSocket({ prompt, max_tokens: maxTokens, temperature: 0 });
    const whole = await ollama.generate({ model: "tiny-gpt2", prompt, options: { num_predict: maxTokens, temperature: 0 } });
    assert.equal(whole.response, ws.text);
    assert.equal(whole.done, true);
    assert.equal(whole.done_reason, ws.finish_reason);
    assert.deepEqual([whole.prompt_eval_count, whole.eval_count], [ws.usage.prompt_tokens, ws.usage.completion_tokens]);
    assert.ok(whole.total_duration > 0 && whole.eval_duration > 0 && whole.prompt_eval_duration > 0, JSON.stringify(whole));
    assert.ok(whole.total_duration >= whole.eval_duration + whole.prompt_eval_duration - 1, "nanoseconds that add up");

    const raw = await ollama.generate({ model: "tiny-gpt2", prompt, raw: true, stream: true, options: { num_predict: maxTokens, temperature: 0 } });
    let text = "";
    let last: Awaited<ReturnType<typeof ollama.generate>> | undefined;
    for await (const part of raw) {
      text += part.response;
      if (part.done) last = part;
      else assert.ok(part.response.length > 0);
    }
    assert.equal(text, ws.text);
    assert.equal(last?.done_reason, ws.finish_reason);
    assert.equal(last?.eval_count, ws.usage.completion_tokens);
  }
});

test("logprobs: the same tokens and log probabilities as the WebSocket inference_request's, streamed and not", async () => {
  const prompt = "Hello, world!";
  const ws = (await viaWebSocket({ prompt, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 2 })) as unknown as { logprobs: { token: string; logprob: number; top_logprobs: { token: string; logprob: number }[] }[] };
  const expected = ws.logprobs.map((l) => [l.token, l.logprob, l.top_logprobs.map((t) => [t.token, t.logprob])]);
  const shape = (entries: { token: string; logprob: number; top_logprobs?: { token: string; logprob: number }[] }[]) => entries.map((l) => [l.token, l.logprob, (l.top_logprobs ?? []).map((t) => [t.token, t.logprob])]);
  const whole = await ollama.generate({ model: "tiny-gpt2", prompt, logprobs: true, top_logprobs: 2, options: { num_predict: 6, temperature: 0 } });
  assert.equal(expected.length, 6);
  assert.deepEqual(shape(whole.logprobs ?? []), expected);
  const streamed: { token: string; logprob: number }[] = [];
  for await (const part of await ollama.generate({ model: "tiny-gpt2", prompt, logprobs: true, top_logprobs: 2, stream: true, options: { num_predict: 6, temperature: 0 } })) streamed.push(...(part.logprobs ?? []));
  assert.deepEqual(shape(streamed), expected);
});

test("chat, streamed and not, is the same text as the WebSocket API's chat; options reach the sampler", async () => {
  const messages = [{ role: "system", content: "You are terse." }, { role: "user", content: "Say hi." }];
  // The prompt in the prefix cache first, so that every request below computes it the same way (a
  // hit's last prompt token runs alone, a cold prefill's with the rest: their logits differ by float
  // rounding, which can move a seeded draw to another token; docs/engine.md, "Prefix cache").
  await viaWebSocket({ messages, max_tokens: 1 });
  const ws = await viaWebSocket({ messages, max_tokens: 12, temperature: 0.9, seed: 5 });
  const options = { num_predict: 12, temperature: 0.9, seed: 5 };
  const whole = await ollama.chat({ model: "tiny-gpt2", messages, options });
  assert.deepEqual(whole.message, { role: "assistant", content: ws.text });
  assert.deepEqual([whole.done_reason, whole.prompt_eval_count, whole.eval_count], [ws.finish_reason, ws.usage.prompt_tokens, ws.usage.completion_tokens]);
  let text = "";
  let done = 0;
  for await (const part of await ollama.chat({ model: "tiny-gpt2", messages, options, stream: true })) {
    text += part.message.content;
    if (part.done) done++;
  }
  assert.equal(text, ws.text);
  assert.equal(done, 1);
  const free = await ollama.generate({ model: "tiny-gpt2", prompt: "Hello, world!", options: { num_predict: 8, temperature: 0 } });
  const stop = free.response.trim().slice(-3);
  const stopped = await ollama.generate({ model: "tiny-gpt2", prompt: "Hello, world!", options: { num_predict: 8, temperature: 0, stop: [stop] } });
  assert.equal(stopped.done_reason, "stop");
  assert.equal(stopped.response, free.response.slice(0, free.response.indexOf(stop)));
});

// Bounded strings, so that random weights end them (a free string closes only by chance).
const schema = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 8 },
    age: { type: "integer", minimum: 0, maximum: 120 },
    color: { enum: ["red", "green", "blue"] },
    ok: { type: "boolean" },
  },
  required: ["name", "age", "color", "ok"],
} as const;

test("format: a JSON schema gives JSON valid against it (4 seeds, temperature 1, streamed and not); format json gives a JSON object", async () => {
  const validate = new Ajv({ strict: false }).compile(schema);
  for (let seed = 0; seed < 4; seed++) {
    const reply = await ollama.chat({ model: "tiny-gpt2", messages: [{ role: "user", content: "A thing as JSON." }], format: schema, options: { temperature: 1, seed, num_predict: 200 } });
    assert.equal(reply.done_reason, "stop", reply.message.content);
    const value: unknown = JSON.parse(reply.message.content);
    assert.ok(validate(value), `${reply.message.content}: ${JSON.stringify(validate.errors)}`);
  }
  let streamed = "";
  for await (const part of await ollama.generate({ model: "tiny-gpt2", prompt: "JSON:", format: schema, stream: true, options: { temperature: 1, seed: 9, num_predict: 200 } })) streamed += part.response;
  assert.ok(validate(JSON.parse(streamed)), streamed);

  const json = await ollama.generate({ model: "tiny-gpt2", prompt: "JSON:", format: "json", options: { temperature: 0, num_predict: 8 } });
  assert.match(json.response, /^\{/, "an object starts");
  const ws = await viaWebSocket({ prompt: "JSON:", max_tokens: 8, temperature: 0, response_format: { type: "json_object" } });
  assert.equal(json.response, ws.text, "the same grammar as the other doors' json_object");
  await eventuallyIdle(node);
});

test("errors reach the client with Ollama's message: unknown model (404), refused fields (400), other /api/ paths (404)", async () => {
  await assert.rejects(ollama.generate({ model: "nope", prompt: "p" }), (e: Error & { status_code?: number }) => {
    assert.equal(e.name, "ResponseError");
    assert.equal(e.status_code, 404);
    assert.equal(e.message, 'model "nope" not found (this node serves: tiny-gpt2)');
    return true;
  });
  await assert.rejects(ollama.chat({ model: "nope", messages: [{ role: "user", content: "p" }], stream: true }), { status_code: 404 });
  // One field of each family the node does not serve: images, thinking, Ollama's own templating and context, sampling it has not.
  const refused: [() => Promise<unknown>, RegExp][] = [
    [() => ollama.chat({ model: "tiny-gpt2", messages: [{ role: "user", content: "p", images: ["aGk="] }] }), /^invalid messages\[0\]\.images: images are not supported/],
    [() => ollama.chat({ model: "tiny-gpt2", messages: [{ role: "user", content: "p" }], think: true }), /^invalid think: thinking is not supported/],
    [() => ollama.generate({ model: "tiny-gpt2", prompt: "p", template: "{{ .Prompt }}" }), /^invalid template: not supported/],
    [() => ollama.generate({ model: "tiny-gpt2", prompt: "p", suffix: "end" }), /^invalid suffix: not supported/],
    [() => ollama.generate({ model: "tiny-gpt2", prompt: "p", context: [1, 2] } as never), /^invalid context: not supported/],
    [() => ollama.chat({ model: "tiny-gpt2", messages: [{ role: "user", content: "p" }], tools: [{ type: "function", function: { name: "bad name" } }] }), /^invalid tools\[0\]\.function\.name: /],
  ];
  for (const [request, message] of refused) await assert.rejects(request(), { status_code: 400, message });
  await assert.rejects(ollama.generate({ model: "tiny-gpt2", prompt: "p", options: { mirostat: 2 } }), { status_code: 400, message: /^invalid options\.mirostat: not supported/ });
  await assert.rejects(ollama.generate({ model: "tiny-gpt2", prompt: "p", format: { type: "object", properties: { a: { type: "strange" } } } }), {
    status_code: 400,
    message: /^invalid format: /,
  });
  await assert.rejects(ollama.pull({ model: "llama3" }), { status_code: 404, message: "POST /api/pull is not served by this node (see docs/plugin-ollama.md)" });
  await assert.rejects(ollama.embed({ model: "tiny-gpt2", input: "x" }), { status_code: 404 });
  const res = await fetch(`${base}/api/generate`);
  assert.equal(res.status, 405);
  assert.deepEqual(Object.keys((await res.json()) as object), ["error"]);
  const ps = await ollama.ps();
  assert.equal(ps.models.length, 1, "the node still answers");
});

test("auth required: 401 in Ollama's shape without a valid key; the client's Authorization header is served", async () => {
  const key = "e2e-ollama-license-key";
  const secured = await startNode({ auth: { required: true, keyHashes: [hashLicenseKey(key)], secret: "s".repeat(32) } });
  const host = `http://127.0.0.1:${secured.port}`;
  try {
    const anonymous = await fetch(`${host}/api/tags`);
    assert.equal(anonymous.status, 401);
    assert.match(((await anonymous.json()) as { error: string }).error, /Authorization: Bearer/);
    await assert.rejects(new Ollama({ host, headers: { Authorization: "Bearer not-the-key" } }).list(), { status_code: 401 });
    const right = new Ollama({ host, headers: { Authorization: `Bearer ${key}` } });
    assert.deepEqual((await right.list()).models.map((m) => m.name), ["tiny-gpt2"]);
    const reply = await right.generate({ model: "tiny-gpt2", prompt: "Hi", options: { num_predict: 2 } });
    assert.equal(reply.eval_count, 2);
  } finally {
    await secured.node.close();
  }
});

test("config ollama.enabled false leaves the routes out: /api/ paths answer as before (426)", async () => {
  const off = await startNode({ nodeId: "e2e-ollama-off", ollama: { enabled: false } });
  try {
    assert.equal((await fetch(`http://127.0.0.1:${off.port}/api/tags`)).status, 426);
  } finally {
    await off.node.close();
  }
});
