/** Errors in OpenAI's shape with core's HTTP statuses, as the official SDK raises them. */
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { definePlugin, errors, type GenerateRequest, type GenerationEvent } from "@modelnode/core";
import { FakePipeline } from "@modelnode/testing";
import { postJson, serve } from "./support.js";

/** What an APIError carries, for deepEqual. */
const shapeOf = (e: unknown) => {
  const error = e as InstanceType<typeof OpenAI.APIError>;
  return { status: error.status, type: error.type, param: error.param, code: error.code };
};

test("an unknown model is NotFoundError (404, model_not_found, param model), streamed or not", async () => {
  const { client, pipeline, close } = await serve();
  try {
    const expected = { status: 404, type: "invalid_request_error", param: "model", code: "model_not_found" };
    const attempts = [
      () => client.completions.create({ model: "nope", prompt: "p" }),
      () => client.completions.create({ model: "nope", prompt: "p", stream: true }),
      () => client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "p" }] }),
      () => client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "p" }], stream: true }),
    ];
    for (const attempt of attempts) {
      await assert.rejects(attempt(), (e) => {
        assert.ok(e instanceof OpenAI.NotFoundError, String(e));
        assert.deepEqual(shapeOf(e), expected);
        assert.match((e as Error).message, /Model "nope" is not served by this node\./);
        return true;
      });
    }
    assert.equal(pipeline.requests.length, 0, "nothing reached the pipeline");
  } finally {
    await close();
  }
});

test("bad or unsupported fields are BadRequestError (400) naming the field in param and in the message", async () => {
  const { client, pipeline, close } = await serve({ maxTokensLimit: 100, maxPromptChars: 50 });
  const completion = (extra: Record<string, unknown>) => ({ model: "fake", prompt: "p", ...extra });
  const chat = (extra: Record<string, unknown>) => ({ model: "fake", messages: [{ role: "user", content: "p" }], ...extra });
  const cases: ["completions" | "chat", Record<string, unknown>, string | null, RegExp][] = [
    ["completions", completion({ n: 9 }), "n", /Invalid 'n': expected an integer from 1 to 8/],
    ["completions", completion({ n: 0 }), "n", /from 1 to 8/],
    ["completions", completion({ temperature: 3 }), "temperature", /expected a number from 0 to 2/],
    ["completions", completion({ temperature: "0.5" }), "temperature", /expected a number from 0 to 2/],
    ["completions", completion({ top_p: 0 }), "top_p", /more than 0/],
    ["completions", completion({ max_tokens: 0 }), "max_tokens", /from 1 to 100/],
    ["completions", completion({ max_tokens: 101 }), "max_tokens", /from 1 to 100/],
    ["completions", completion({ max_tokens: 1.5 }), "max_tokens", /integer/],
    ["completions", completion({ seed: 0.5 }), "seed", /integer/],
    ["completions", completion({ stop: "" }), "stop", /expected a string of 1 to 64 characters/],
    ["completions", completion({ stop: ["ok", 5] }), "stop[1]", /expected a string of 1 to 64 characters/],
    ["completions", completion({ stop: 5 }), "stop", /expected a string or an array of strings/],
    ["completions", completion({ stop: ["a", "b", "c", "d", "e"] }), "stop", /at most 4/],
    ["completions", completion({ stream: "yes" }), "stream", /true or false/],
    ["completions", completion({ prompt: ["a", "b"] }), "prompt", /only one prompt per request/],
    ["completions", completion({ prompt: [1, 2, 3] }), "prompt", /token-id prompts are not supported/],
    ["completions", completion({ prompt: [[1, 2]] }), "prompt", /token-id prompts/],
    ["completions", completion({ prompt: "" }), "prompt", /non-empty/],
    ["completions", completion({ prompt: "x".repeat(51) }), "prompt", /at most 50 characters/],
    ["completions", { model: "fake" }, "prompt", /Invalid 'prompt': required/],
    ["completions", { prompt: "p" }, "model", /Invalid 'model': required/],
    ["completions", completion({ echo: true }), "echo", /not supported/],
    ["completions", completion({ logprobs: 21 }), "logprobs", /from 0 to 20/],
    ["completions", completion({ logprobs: true }), "logprobs", /integer/],
    ["completions", completion({ best_of: 3 }), "best_of", /only 1/],
    ["completions", completion({ suffix: "end" }), "suffix", /not supported/],
    ["completions", completion({ presence_penalty: 2.5 }), "presence_penalty", /from -2 to 2/],
    ["completions", completion({ frequency_penalty: -3 }), "frequency_penalty", /from -2 to 2/],
    ["completions", completion({ repetition_penalty: 0 }), "repetition_penalty", /more than 0/],
    ["completions", completion({ min_p: 1.5 }), "min_p", /from 0 to 1/],
    ["completions", completion({ logit_bias: { "5": 101 } }), "logit_bias", /from -100 to 100 for token 5/],
    ["completions", completion({ logit_bias: { abc: 1 } }), "logit_bias", /token ids as keys \(got "abc"\)/],
    ["completions", completion({ logit_bias: [1] }), "logit_bias", /object mapping token ids/],
    ["chat", chat({ messages: [] }), "messages", /at least one message/],
    ["chat", { model: "fake" }, "messages", /required/],
    ["chat", chat({ messages: [{ role: "tool", content: "42" }] }), "messages[0].tool_call_id", /required in a tool message/],
    ["chat", chat({ messages: [{ role: "function", content: "42", name: "f" }] }), "messages[0].role", /deprecated functions API/],
    ["chat", chat({ messages: [{ role: "wizard", content: "x" }] }), "messages[0].role", /system, developer, user, assistant/],
    ["chat", chat({ messages: [{ role: "user" }] }), "messages[0].content", /required/],
    ["chat", chat({ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "http://x/y.png" } }] }] }), "messages[0].content[0].type", /only text content parts are supported \(got "image_url"\)/],
    ["chat", chat({ messages: [{ role: "user", content: [{ type: "text" }] }] }), "messages[0].content[0].text", /required/],
    ["chat", chat({ messages: [{ role: "user", content: 5 }] }), "messages[0].content", /string or an array of text parts/],
    ["chat", chat({ messages: [{ role: "assistant", content: null, tool_calls: [{ id: "1" }] }] }), "messages[0].tool_calls[0].type", /expected "function"/],
    ["chat", chat({ messages: [{ role: "user", content: "x", tool_calls: [{ id: "1", type: "function", function: { name: "f", arguments: "{}" } }] }] }), "messages[0].tool_calls", /only assistant messages/],
    ["chat", chat({ tools: [{ type: "function", function: { description: "f" } }] }), "tools[0].function.name", /required/],
    ["chat", chat({ tools: [{ type: "function", function: { name: "f", parameters: [] } }] }), "tools[0].function.parameters", /JSON schema/],
    ["chat", chat({ tools: [{ type: "function", function: { name: "f" } }, { type: "function", function: { name: "f" } }] }), "tools[1].function.name", /a second tool named "f"/],
    ["chat", chat({ tool_choice: "auto" }), "tool_choice", /needs tools/],
    ["chat", chat({ tools: "get_weather" }), "tools", /array of tools/],
    ["chat", chat({ tools: [{ type: "function" }], tool_choice: { type: "function", function: { name: "f" } } }), "tools[0].function", /"name", "description", "parameters"/],
    ["chat", chat({ tools: [null, { type: "function", function: { name: "f" } }, { type: "function", function: { name: "f" } }] }), "tools[0]", /"type": "function"/],
    ["chat", chat({ tools: [{ type: "function", function: { name: "f" } }], tool_choice: { type: "function" } }), "tool_choice", /"auto", "none", "required"/],
    ["chat", chat({ tools: [{ type: "function", function: { name: "f" } }], tool_choice: { type: "function", function: { name: "g" } } }), "tool_choice", /not one of the tools/],
    ["chat", chat({ functions: [{ name: "f" }] }), "functions", /deprecated functions API/],
    ["chat", chat({ logprobs: "yes" }), "logprobs", /true or false/],
    ["chat", chat({ top_logprobs: 3 }), "top_logprobs", /needs logprobs: true/],
    ["chat", chat({ logprobs: true, top_logprobs: 21 }), "top_logprobs", /from 0 to 20/],
    ["chat", chat({ response_format: { type: "xml" } }), "response_format.type", /"json_schema", "regex", "grammar", "choice"/],
    ["chat", chat({ response_format: { type: "json_schema" } }), "response_format.json_schema", /expected object/],
    ["completions", completion({ response_format: { type: "json_object" }, guided_regex: "a+" }), "guided_regex", /one of response_format and guided_regex/],
    ["chat", chat({ n: 9 }), "n", /from 1 to 8/],
    ["chat", chat({ modalities: [] }), "modalities", /only \["text"\]/],
    ["chat", chat({ modalities: ["text", "text"] }), "modalities", /only \["text"\]/],
    ["chat", chat({ modalities: ["text", "audio"] }), "modalities", /only \["text"\]/],
    ["chat", chat({ max_tokens: 3, max_completion_tokens: 4 }), "max_completion_tokens", /differs from max_tokens/],
    ["chat", chat({ max_completion_tokens: 101 }), "max_completion_tokens", /from 1 to 100/],
  ];
  try {
    for (const [endpoint, body, param, message] of cases) {
      const call = endpoint === "chat" ? client.chat.completions.create(body as never) : client.completions.create(body as never);
      await assert.rejects(call, (e) => {
        assert.ok(e instanceof OpenAI.BadRequestError, `${JSON.stringify(body)}: ${String(e)}`);
        assert.deepEqual(shapeOf(e), { status: 400, type: "invalid_request_error", param, code: "validation_failed" }, JSON.stringify(body));
        assert.match((e as Error).message, message, JSON.stringify(body));
        return true;
      });
    }
    assert.equal(pipeline.requests.length, 0);
  } finally {
    await close();
  }
});

test("the raw error body: exactly {error: {message, type, param, code}}; not JSON, not an object, too large", async () => {
  const { base, close } = await serve({ maxBodyBytes: 200 });
  try {
    const invalid = await postJson(`${base}/v1/completions`, { model: "fake", prompt: "p", n: 20 });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.headers.get("content-type"), "application/json");
    assert.deepEqual(await invalid.json(), {
      error: {
        message: "Invalid 'n': expected an integer from 1 to 8.",
        type: "invalid_request_error",
        param: "n",
        code: "validation_failed",
      },
    });

    const notJson = await postJson(`${base}/v1/chat/completions`, "{nope");
    assert.equal(notJson.status, 400);
    assert.deepEqual(await notJson.json(), {
      error: { message: "The request body is not valid JSON.", type: "invalid_request_error", param: null, code: "invalid_json" },
    });

    const notObject = await postJson(`${base}/v1/completions`, [1, 2]);
    assert.equal(notObject.status, 400);
    const body = (await notObject.json()) as { error: { param: unknown; message: string } };
    assert.equal(body.error.param, null);
    assert.match(body.error.message, /^Invalid request body: expected a JSON object\.$/);

    const big = await postJson(`${base}/v1/completions`, { model: "fake", prompt: "x".repeat(300) });
    assert.equal(big.status, 413);
    assert.deepEqual(((await big.json()) as { error: unknown }).error, {
      message: "The message is larger than 200 bytes.",
      type: "invalid_request_error",
      param: null,
      code: "payload_too_large",
    });
  } finally {
    await close();
  }
});

test("a prompt longer than the model's context: 400 context_length_exceeded (param prompt or messages), even when streamed", async () => {
  const { client, close } = await serve();
  try {
    const long = "x".repeat(100); // FakePipeline's "fake" holds 64 tokens, one per character
    for (const stream of [false, true]) {
      await assert.rejects(client.completions.create({ model: "fake", prompt: long, stream }), (e) => {
        assert.ok(e instanceof OpenAI.BadRequestError);
        assert.deepEqual(shapeOf(e), { status: 400, type: "invalid_request_error", param: "prompt", code: "context_length_exceeded" });
        return true;
      });
      await assert.rejects(client.chat.completions.create({ model: "fake", messages: [{ role: "user", content: long }], stream }), (e) => {
        assert.deepEqual(shapeOf(e), { status: 400, type: "invalid_request_error", param: "messages", code: "context_length_exceeded" });
        return true;
      });
    }
  } finally {
    await close();
  }
});

test("rate limits: RateLimitError (429, rate_limit_exceeded)", async () => {
  const { client, close } = await serve({}, { node: { limits: { messagesPerSecond: 1, messageBurst: 1 } } });
  try {
    await client.models.list();
    await assert.rejects(client.completions.create({ model: "fake", prompt: "p" }), (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError, String(e));
      assert.deepEqual(shapeOf(e), { status: 429, type: "rate_limit_error", param: null, code: "rate_limit_exceeded" });
      return true;
    });
  } finally {
    await close();
  }
});

test("a guard refusing with UNAUTHENTICATED: AuthenticationError (401, invalid_api_key); the Bearer key reaches guards", async () => {
  // A stand-in for plugin-auth's guard (test/openai.test.ts runs the real one on the example node).
  const bearerGuard = definePlugin({
    name: "bearer",
    register: (_c, host) =>
      host.addGuard((incoming) => {
        if (incoming.protocol === "http" && incoming.http?.headers.authorization !== "Bearer good-key") {
          throw errors.unauthenticated("This endpoint needs authentication: send your license key as `Authorization: Bearer <license key>`.");
        }
      }),
  });
  const { client, base, close } = await serve({}, { before: [bearerGuard] });
  try {
    await assert.rejects(client.models.list(), (e) => {
      assert.ok(e instanceof OpenAI.AuthenticationError, String(e));
      assert.deepEqual(shapeOf(e), { status: 401, type: "authentication_error", param: null, code: "invalid_api_key" });
      return true;
    });
    const authorized = new OpenAI({ baseURL: `${base}/v1`, apiKey: "good-key", maxRetries: 0 });
    const completion = await authorized.completions.create({ model: "fake", prompt: "p", max_tokens: 1 });
    assert.equal(completion.choices[0].text, "w0 ");
  } finally {
    await close();
  }
});

/** A pipeline whose streams fail with BUSY after their first piece of text. */
class FailingPipeline extends FakePipeline {
  override async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    for await (const event of super.stream(request)) {
      yield event;
      if (event.kind === "text") throw errors.busy("The node ran out of room mid-generation.");
    }
  }
}

test("an error after the stream began is its last event, in OpenAI's shape (the SDK throws it); no [DONE]", async () => {
  const { client, base, node, close } = await serve({}, { pipeline: new FailingPipeline() });
  try {
    const stream = await client.completions.create({ model: "fake", prompt: "p", stream: true });
    const texts: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) texts.push(chunk.choices[0].text);
      })(),
      (e) => {
        assert.ok(e instanceof OpenAI.APIError, String(e));
        assert.equal((e as InstanceType<typeof OpenAI.APIError>).code, "busy");
        assert.match((e as Error).message, /ran out of room/);
        return true;
      },
    );
    assert.deepEqual(texts, ["w0 "]);

    const raw = await postJson(`${base}/v1/chat/completions`, { model: "fake", messages: [{ role: "user", content: "p" }], stream: true });
    assert.equal(raw.status, 200);
    const text = await raw.text();
    assert.ok(!text.includes("[DONE]"));
    assert.ok(text.endsWith(`data: ${JSON.stringify({ error: { message: "The node ran out of room mid-generation.", type: "server_error", param: null, code: "busy" } })}\n\n`), text);
    assert.equal((node.getStats().openai as { in_flight: number }).in_flight, 0);
  } finally {
    await close();
  }
});
