/** The routes on a FakePipeline: what reaches the pipeline, the NDJSON stream, refusals by name, 404s, cancellation. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { eventually, sleep } from "@modelnode/testing";
import { ndjson, post, serve } from "./support.js";

const FIGURES = ["total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration"];

test("/api/generate streams NDJSON by default: the pieces, then done with the reason and the figures", async () => {
  const { base, pipeline, close } = await serve();
  try {
    const res = await post(`${base}/api/generate`, { model: "fake", prompt: "Hi", options: { num_predict: 3, temperature: 0.5, seed: 7, stop: ["w9"] } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/x-ndjson");
    const lines = ndjson(await res.text());
    assert.deepEqual(lines.map((l) => [l.model, l.response, l.done]), [["fake", "w0 ", false], ["fake", "w1 ", false], ["fake", "w2 ", false], ["fake", "", true]]);
    const last = lines[3];
    assert.equal(last.done_reason, "length");
    assert.deepEqual([last.prompt_eval_count, last.eval_count, last.load_duration], [2, 3, 0]);
    for (const key of FIGURES) assert.ok(Number.isInteger(last[key]) && (last[key] as number) >= 0, key);
    assert.ok((last.total_duration as number) >= (last.prompt_eval_duration as number) + (last.eval_duration as number) - 1);
    assert.ok(!Number.isNaN(Date.parse(String(last.created_at))));
    const request = pipeline.requests[0];
    assert.deepEqual([request.prompt, request.messages, request.maxTokens, request.temperature, request.seed, request.stop], ["Hi", undefined, 3, 0.5, 7, ["w9"]]);
  } finally {
    await close();
  }
});

test("stream: false answers one object; the prompt goes through the chat template only where the model has one, or with system", async () => {
  const { base, pipeline, close } = await serve();
  try {
    const whole = (await (await post(`${base}/api/generate`, { model: "fake", prompt: "Hi", stream: false, options: { num_predict: 2 } })).json()) as Record<string, unknown>;
    assert.deepEqual([whole.response, whole.done, whole.done_reason, whole.eval_count], ["w0 w1 ", true, "length", 2]);
    await post(`${base}/api/generate`, { model: "chatty", prompt: "Hi", stream: false });
    await post(`${base}/api/generate`, { model: "chatty", prompt: "Hi", raw: true, stream: false });
    await post(`${base}/api/generate`, { model: "fake", prompt: "Hi", system: "Be brief.", stream: false });
    assert.deepEqual(pipeline.requests[1].messages, [{ role: "user", content: "Hi" }]);
    assert.deepEqual([pipeline.requests[2].prompt, pipeline.requests[2].messages], ["Hi", undefined]);
    assert.deepEqual(pipeline.requests[3].messages, [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }]);
    assert.equal(pipeline.requests[1].maxTokens, 64, "the plugin's default max tokens");
  } finally {
    await close();
  }
});

test("/api/chat: messages, the model's default tag, format → grammar, and a request without input only loads", async () => {
  const { base, pipeline, close } = await serve();
  try {
    const messages = [{ role: "system", content: "S" }, { role: "user", content: "U" }, { role: "assistant", content: "A" }, { role: "user", content: "V" }];
    const chat = (await (await post(`${base}/api/chat`, { model: "fake:latest", messages, stream: false, format: "json", options: { num_predict: 1 } })).json()) as Record<string, unknown>;
    assert.deepEqual([chat.model, chat.message, chat.done], ["fake:latest", { role: "assistant", content: "w0 " }, true], "the name as the client sent it");
    assert.deepEqual(pipeline.requests[0].messages, messages);
    assert.equal(pipeline.requests[0].modelId, "fake");
    assert.deepEqual(pipeline.requests[0].grammar, { type: "json_object" });
    const schema = { type: "object", properties: { a: { type: "integer" } }, required: ["a"] };
    await post(`${base}/api/chat`, { model: "fake", messages, stream: false, format: schema });
    assert.deepEqual(pipeline.requests[1].grammar, { type: "json_schema", schema });
    const lines = ndjson(await (await post(`${base}/api/chat`, { model: "fake", messages: [messages[1]], options: { num_predict: 2 } })).text());
    assert.deepEqual(lines.map((l) => l.message), [{ role: "assistant", content: "w0 " }, { role: "assistant", content: "w1 " }, { role: "assistant", content: "" }]);
    for (const [path, body] of [["/api/chat", { model: "fake", keep_alive: -1 }], ["/api/generate", { model: "fake", keep_alive: "1h30m" }], ["/api/generate", { model: "fake", keep_alive: "0" }]] as const) {
      const loaded = (await (await post(`${base}${path}`, body)).json()) as Record<string, unknown>;
      assert.deepEqual([loaded.done, loaded.done_reason], [true, "load"], path);
    }
    assert.equal(pipeline.requests.length, 3, "loading generates nothing");
  } finally {
    await close();
  }
});

test("refused by name, 400 in Ollama's shape: bad tools, images, template, suffix, context, think, unknown fields and options", async () => {
  const { base, pipeline, close } = await serve();
  const user = [{ role: "user", content: "U" }];
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["/api/chat", { model: "fake", messages: user, tools: [{ type: "function", function: { name: "bad name" } }] }, /^invalid tools\[0\]\.function\.name: expected 1 to 64 letters/],
    ["/api/chat", { model: "fake", messages: user, tools: [{ type: "retrieval" }] }, /^invalid tools\[0\]\.type: expected "function"/],
    ["/api/chat", { model: "fake", messages: user, tool_choice: "required" }, /^invalid tool_choice: needs tools/],
    ["/api/chat", { model: "fake", messages: [{ role: "user", content: "x", tool_calls: [{ function: { name: "f", arguments: {} } }] }] }, /^invalid messages\[0\]\.tool_calls: only assistant messages/],
    ["/api/chat", { model: "fake", messages: [{ role: "assistant", content: "", tool_calls: [{ function: { name: "f", arguments: "{}" } }] }, ...user] }, /^invalid messages\[0\]\.tool_calls\[0\]\.function\.arguments: expected the arguments \(a JSON object\)/],
    ["/api/chat", { model: "fake", messages: [{ role: "function", content: "x" }] }, /^invalid messages\[0\]\.role: expected one of system, user, assistant, tool/],
    ["/api/chat", { model: "fake", messages: [{ role: "user", content: "x", images: ["aGk="] }] }, /^invalid messages\[0\]\.images: images are not supported/],
    ["/api/generate", { model: "fake", prompt: "p", images: ["aGk="] }, /^invalid images: images are not supported/],
    ["/api/generate", { model: "fake", prompt: "p", template: "{{ .Prompt }}" }, /^invalid template: not supported/],
    ["/api/generate", { model: "fake", prompt: "p", suffix: "end" }, /^invalid suffix: not supported/],
    ["/api/generate", { model: "fake", prompt: "p", context: [1, 2] }, /^invalid context: not supported/],
    ["/api/generate", { model: "fake", prompt: "p", think: true }, /^invalid think: thinking is not supported/],
    ["/api/chat", { model: "fake", messages: user, think: "high" }, /^invalid think: thinking is not supported/],
    ["/api/chat", { model: "fake", messages: [{ role: "assistant", content: "", thinking: "hm" }, ...user] }, /^invalid messages\[0\]\.thinking: thinking is not supported/],
    ["/api/chat", { model: "fake", messages: user, truncate: true }, /^invalid truncate: not supported: a prompt too long for the context is refused/],
    ["/api/generate", { model: "fake", prompt: "p", shift: true }, /^invalid shift: not supported/],
    ["/api/generate", { model: "fake", prompt: "p", _debug_render_only: true }, /^invalid _debug_render_only: not supported/],
    ["/api/generate", { model: "fake", prompt: "p", options: { num_keep: 5 } }, /^invalid options\.num_keep: not supported/],
    ["/api/generate", { model: "fake", prompt: "p", options: { typical_p: 0.5 } }, /^invalid options\.typical_p: not supported/],
    ["/api/generate", { model: "fake", prompt: "p", options: { logits_all: true } }, /^invalid options: unknown option "logits_all"/],
    ["/api/generate", { model: "fake", prompt: "p", raw: true, system: "S" }, /^invalid system: not used with raw: true/],
    ["/api/generate", { model: "fake", prompt: "p", format: "yaml" }, /^invalid format: expected "json" or a JSON schema/],
    ["/api/generate", { model: "fake", prompt: "p", promtp: "typo" }, /^invalid request: unknown field "promtp"/],
    ["/api/generate", { model: "fake", prompt: "p", options: { mirostat: 1 } }, /^invalid options\.mirostat: not supported/],
    ["/api/generate", { model: "fake", prompt: "p", options: { temperature: 3 } }, /^invalid options\.temperature: expected a number from 0 to 2$/],
    ["/api/generate", { prompt: "p" }, /^invalid model: required$/],
    ["/api/generate", { model: "fake", prompt: "p", keep_alive: "5 minutes" }, /^invalid keep_alive: expected a duration/],
    ["/api/chat", { model: "fake", messages: user, keep_alive: true }, /^invalid keep_alive: expected a duration/],
  ];
  try {
    for (const [path, body, message] of cases) {
      const res = await post(`${base}${path}`, body);
      const answer = (await res.json()) as { error: string };
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.deepEqual(Object.keys(answer), ["error"]);
      assert.match(answer.error, message, JSON.stringify(body));
    }
    assert.equal(pipeline.requests.length, 0);
  } finally {
    await close();
  }
});

test("unknown models and paths are 404s in Ollama's shape; the pipeline's refusals name Ollama's field", async () => {
  const { base, close } = await serve({ maxTokensLimit: 100 });
  try {
    for (const [path, body] of [["/api/generate", { model: "nope", prompt: "p" }], ["/api/chat", { model: "nope", messages: [] }], ["/api/show", { model: "nope" }]] as const) {
      const res = await post(`${base}${path}`, body);
      assert.equal(res.status, 404);
      assert.deepEqual(await res.json(), { error: 'model "nope" not found (this node serves: fake, other, chatty)' });
    }
    for (const [method, path] of [["POST", "/api/pull"], ["POST", "/api/embed"], ["DELETE", "/api/delete"], ["GET", "/api/nothing/here"]]) {
      const res = await fetch(`${base}${path}`, { method });
      assert.equal(res.status, 404, path);
      assert.deepEqual(await res.json(), { error: `${method} ${path} is not served by this node (see docs/plugin-ollama.md)` });
    }
    const tooLong = await post(`${base}/api/generate`, { model: "other", prompt: "x".repeat(40), stream: false });
    assert.equal(tooLong.status, 400);
    assert.match(((await tooLong.json()) as { error: string }).error, /prompt is 40 tokens/);
  } finally {
    await close();
  }
});

test("tags, ps, show and version describe the served models", async () => {
  const { base, close } = await serve({ version: "0.9.0", defaults: { temperature: 0.3 } });
  try {
    assert.deepEqual(await (await fetch(`${base}/api/version`)).json(), { version: "0.9.0" });
    const tags = (await (await fetch(`${base}/api/tags`)).json()) as { models: { name: string; digest: string; details: { family: string } }[] };
    assert.deepEqual(tags.models.map((m) => [m.name, m.details.family]), [["fake", "fake"], ["other", "fake"], ["chatty", "fake"]]);
    assert.equal(new Set(tags.models.map((m) => m.digest)).size, 3);
    assert.ok(tags.models.every((m) => /^[0-9a-f]{64}$/.test(m.digest)));
    const ps = (await (await fetch(`${base}/api/ps`)).json()) as { models: { name: string; expires_at: string }[] };
    assert.deepEqual(ps.models.map((m) => m.name), ["fake", "other", "chatty"]);
    assert.ok(Date.parse(ps.models[0].expires_at) > Date.now());
    const show = (await (await post(`${base}/api/show`, { name: "fake" })).json()) as { parameters: string; model_info: Record<string, unknown>; capabilities: string[] };
    assert.equal(show.parameters, "num_predict 64\ntemperature 0.3");
    assert.deepEqual(show.model_info, { "general.architecture": "fake", "general.name": "fake", "fake.context_length": 64, "fake.vocab_size": 128, "tokenizer.ggml.eos_token_id": 127 });
    assert.deepEqual(show.capabilities, ["completion"]);
  } finally {
    await close();
  }
});

test("a client that leaves a stream cancels its generation; one waiting for a whole answer too", async () => {
  const { base, pipeline, node, close } = await serve();
  pipeline.tokenDelay = () => sleep(10);
  try {
    const controller = new AbortController();
    const res = await fetch(`${base}/api/generate`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "fake", prompt: "p", options: { num_predict: 1000 } }), signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await eventually(() => pipeline.generationsInFlight === 0, "the streamed generation to stop");
    assert.equal(pipeline.requests[0].signal?.aborted, true);
    const cancelled = () => (node.getStats().ollama as { finish_reasons: Record<string, number> }).finish_reasons.cancelled;
    await eventually(() => cancelled() === 1, "the stream to be counted as cancelled");

    const whole = new AbortController();
    const pending = post(`${base}/api/chat`, { model: "fake", messages: [{ role: "user", content: "p" }], stream: false, options: { num_predict: 1000 } });
    void pending.catch(() => {});
    const leaving = fetch(`${base}/api/chat`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "fake", messages: [{ role: "user", content: "q" }], stream: false, options: { num_predict: 1000 } }), signal: whole.signal });
    void leaving.catch(() => {});
    await eventually(() => pipeline.generationsInFlight === 2, "both to run");
    whole.abort();
    await eventually(() => pipeline.generationsInFlight === 1, "the abandoned one to stop");
    assert.equal(pipeline.requests[2].signal?.aborted, true);
    await eventually(() => cancelled() === 2, "the whole one to be counted as cancelled");
    assert.equal((node.getStats().ollama as { in_flight: number }).in_flight, 1, "the other one still runs");
  } finally {
    await close();
  }
});

test("a node that stops waiting for its requests answers 503: whole, or as a stream's last line in Ollama's shape", async () => {
  const { base, pipeline, node } = await serve();
  pipeline.tokenDelay = () => sleep(10);
  const whole = post(`${base}/api/generate`, { model: "fake", prompt: "p", stream: false, options: { num_predict: 1000 } });
  const streamed = await post(`${base}/api/chat`, { model: "fake", messages: [{ role: "user", content: "p" }], options: { num_predict: 1000 } });
  assert.equal(streamed.status, 200);
  await eventually(() => pipeline.generationsInFlight === 2, "both generations to run");
  const closing = node.close(0); // no grace: in-flight requests are cancelled at once
  const answer = await whole;
  assert.equal(answer.status, 503);
  assert.deepEqual(await answer.json(), { error: "The generation was cancelled: the node is shutting down." });
  const lines = ndjson(await streamed.text());
  assert.ok(lines.length >= 2 && lines.slice(0, -1).every((line) => line.done === false));
  assert.deepEqual(lines[lines.length - 1], { error: "The generation was cancelled: the node is shutting down." });
  await closing;
});

test("logprobs: each streamed piece carries its tokens' log probabilities and alternatives; the whole answer all of them", async () => {
  const { base, pipeline, close } = await serve();
  try {
    const lines = ndjson(await (await post(`${base}/api/generate`, { model: "fake", prompt: "p", logprobs: true, top_logprobs: 2, options: { num_predict: 2 } })).text());
    assert.deepEqual(pipeline.requests[0].logprobs, 2);
    const pieces = lines.filter((line) => line.done === false);
    assert.deepEqual(
      pieces.map((line) => (line.logprobs as { token: string; logprob: number; top_logprobs: { token: string }[] }[]).map((l) => [l.token, l.logprob, l.top_logprobs.map((t) => t.token)])),
      [[["w0 ", -0.1, ["w0 ", "alt1"]]], [["w1 ", -0.2, ["w1 ", "alt1"]]]],
    );
    assert.equal(lines[lines.length - 1].logprobs, undefined, "the last line carries no tokens");
    const whole = (await (await post(`${base}/api/chat`, { model: "fake", messages: [{ role: "user", content: "p" }], stream: false, logprobs: true, options: { num_predict: 3 } })).json()) as { logprobs: { token: string; top_logprobs: unknown[] }[] };
    assert.deepEqual(whole.logprobs.map((l) => [l.token, l.top_logprobs.length]), [["w0 ", 0], ["w1 ", 0], ["w2 ", 0]]);
    const plain = (await (await post(`${base}/api/generate`, { model: "fake", prompt: "p", stream: false, options: { num_predict: 1 } })).json()) as Record<string, unknown>;
    assert.equal("logprobs" in plain, false, "none unless asked");
    assert.equal(pipeline.requests[2].logprobs, undefined);
    for (const [body, message] of [
      [{ top_logprobs: 2 }, "invalid top_logprobs: needs logprobs: true"],
      [{ logprobs: true, top_logprobs: 21 }, "invalid top_logprobs: expected an integer from 0 to 20"],
    ] as const) {
      const res = await post(`${base}/api/generate`, { model: "fake", prompt: "p", ...body });
      assert.equal(res.status, 400);
      assert.deepEqual(await res.json(), { error: message });
    }
  } finally {
    await close();
  }
});

test("bodies: over maxBodyBytes (413), not declared as JSON (415) or not JSON (400), each in Ollama's shape", async () => {
  const { base, close } = await serve({ maxBodyBytes: 200 });
  try {
    const big = await post(`${base}/api/generate`, { model: "fake", prompt: "x".repeat(300) });
    assert.equal(big.status, 413);
    assert.match(((await big.json()) as { error: string }).error, /larger than 200 bytes/);
    const form = await fetch(`${base}/api/chat`, { method: "POST", headers: { "content-type": "text/plain" }, body: '{"model": "fake"}' });
    assert.equal(form.status, 415);
    assert.deepEqual(Object.keys((await form.json()) as object), ["error"]);
    const broken = await post(`${base}/api/show`, "{nope");
    assert.equal(broken.status, 400);
    assert.deepEqual(Object.keys((await broken.json()) as object), ["error"]);
  } finally {
    await close();
  }
});
