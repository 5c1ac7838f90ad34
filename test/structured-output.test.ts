// Structured output end to end: the example node on the real ONNX pipeline (bundled random-weight
// model, temperature 1), asked through the official openai SDK (chat.completions.parse with a zod
// response format, streamed chat, completions with vLLM's guided_choice) and through the WebSocket
// inference_request; invalid schemas are 400 / INVALID_GRAMMAR naming the field, and the node
// answers a valid request right after.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import { z } from "@modelnode/core";
import type { ModelNode } from "@modelnode/core/server";
import { TestClient } from "@modelnode/testing";
import { eventuallyIdle, startNode } from "./support/node.js";

let node: ModelNode;
let url: string;
let openai: OpenAI;

before(async () => {
  let port: number;
  ({ node, url, port } = await startNode({ nodeId: "e2e-structured" }));
  openai = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "x", maxRetries: 0 });
});
after(() => node.close());

// Bounded strings, so that random weights end them (a free string closes only by chance).
const Thing = z.object({
  name: z.string().max(8),
  age: z.number().int().min(0).max(120),
  color: z.enum(["red", "green", "blue"]),
  tags: z.array(z.enum(["a", "b"])).min(1).max(3),
  ok: z.boolean(),
  note: z.string().max(5).nullable(),
});

test("chat.completions.parse with zodResponseFormat returns the parsed object (8 seeds at once, temperature 1)", async () => {
  const completions = await Promise.all(
    Array.from({ length: 8 }, (_, seed) =>
      openai.chat.completions.parse({
        model: "tiny-gpt2",
        messages: [{ role: "user", content: "Describe a thing as JSON." }],
        response_format: zodResponseFormat(Thing, "thing"),
        temperature: 1,
        seed,
        max_tokens: 200,
      }),
    ),
  );
  for (const completion of completions) {
    const { message, finish_reason } = completion.choices[0];
    assert.equal(finish_reason, "stop", message.content ?? "");
    assert.ok(message.parsed, message.content ?? "");
    assert.deepEqual(message.parsed, Thing.parse(JSON.parse(message.content!)));
  }
  await eventuallyIdle(node);
});

test("streamed chat with a JSON schema: the chunks join to valid JSON; completions with guided_choice", async () => {
  const stream = await openai.chat.completions.create({
    model: "tiny-gpt2",
    messages: [{ role: "user", content: "JSON please" }],
    response_format: zodResponseFormat(Thing, "thing"),
    temperature: 1,
    seed: 11,
    max_tokens: 200,
    stream: true,
  });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
  Thing.parse(JSON.parse(text));
  const choice = await openai.completions.create({ model: "tiny-gpt2", prompt: "Yes or no?", temperature: 1, seed: 3, max_tokens: 8, guided_choice: ["yes", "no"] } as never);
  assert.ok(["yes", "no"].includes(choice.choices[0].text), choice.choices[0].text);
});

test("an invalid or unsupported schema is a 400 naming response_format.json_schema.schema; the next request works", async () => {
  const bad: Record<string, unknown>[] = [
    { type: "object", properties: { n: { type: "integer", multipleOf: 3 } } },
    { type: "object", properties: { s: { type: "string", pattern: "(?=a)b" } } },
    { type: "array", minItems: 3, maxItems: 1 },
  ];
  for (const schema of bad) {
    await assert.rejects(
      openai.chat.completions.create({ model: "tiny-gpt2", messages: [{ role: "user", content: "x" }], response_format: { type: "json_schema", json_schema: { name: "bad", schema } } }),
      (error) => {
        assert.ok(error instanceof OpenAI.BadRequestError, String(error));
        assert.equal(error.param, "response_format.json_schema.schema");
        assert.equal(error.code, "invalid_grammar");
        return true;
      },
    );
    const ok = await openai.chat.completions.create({ model: "tiny-gpt2", messages: [{ role: "user", content: "x" }], response_format: { type: "json_object" }, max_tokens: 4 });
    assert.match(ok.choices[0].message.content ?? "", /^\s*\{/);
  }
});

test("WebSocket inference_request with response_format: valid JSON; a bad regex is INVALID_GRAMMAR naming response_format.pattern", async () => {
  // Every frame the node sends is held to what its handlers declare (the error frame too).
  const client = await TestClient.connect(url, { checkReplies: node });
  try {
    const schema = z.toJSONSchema(Thing);
    const reply = (await client.call("inference_request", {
      model_id: "tiny-gpt2",
      prompt: "JSON:",
      temperature: 1,
      seed: 5,
      max_tokens: 200,
      response_format: { type: "json_schema", json_schema: { name: "thing", schema } },
    })) as unknown as { text: string; finish_reason: string };
    assert.equal(reply.finish_reason, "stop");
    Thing.parse(JSON.parse(reply.text));
    const error = (await client.call("inference_request", { model_id: "tiny-gpt2", prompt: "x", response_format: { type: "regex", pattern: "a(b" } })) as unknown as {
      header: { message_type: string };
      code: string;
      details: { field: string };
    };
    assert.equal(error.header.message_type, "error");
    assert.equal(error.code, "INVALID_GRAMMAR");
    assert.equal(error.details.field, "response_format.pattern");
  } finally {
    await client.close();
  }
});
