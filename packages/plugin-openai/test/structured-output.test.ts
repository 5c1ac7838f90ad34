/**
 * Structured output on the OpenAI API: response_format (json_object, json_schema and this node's
 * regex, grammar, choice) and vLLM's guided_* fields reach the pipeline as GenerateRequest.grammar,
 * on both endpoints, streamed and not; an INVALID_GRAMMAR from the pipeline is a 400 whose `param`
 * names the field the client wrote, before any stream starts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { errors, type GenerateRequest, type GenerationEvent } from "@modelnode/core";
import { FakePipeline } from "@modelnode/testing";
import { postJson, serve } from "./support.js";

const SCHEMA = { type: "object", properties: { a: { type: "integer" } }, required: ["a"], additionalProperties: false };

/** Refuses any grammar whose JSON mentions "bad", as the ONNX pipeline refuses an invalid one. */
class GrammarCheckingPipeline extends FakePipeline {
  override async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    const grammar = request.grammar;
    if (grammar && JSON.stringify(grammar).includes("bad")) {
      this.requests.push(request);
      throw errors.invalidGrammar("The JSON schema at /bad: the keyword is not supported.", grammar.type === "json_schema" ? "grammar.schema" : grammar.type === "regex" ? "grammar.pattern" : "grammar");
    }
    yield* super.stream(request);
  }
}

test("response_format and guided_* become the request's grammar, on both endpoints, streamed and not", async () => {
  const { client, pipeline, base, close } = await serve();
  try {
    await client.chat.completions.create({ model: "fake", messages: [{ role: "user", content: "hi" }], response_format: { type: "json_schema", json_schema: { name: "thing", schema: SCHEMA, strict: true } } });
    assert.deepEqual(pipeline.requests.at(-1)!.grammar, { type: "json_schema", schema: SCHEMA, strict: true });
    const stream = await client.chat.completions.create({ model: "fake", messages: [{ role: "user", content: "hi" }], stream: true, response_format: { type: "json_object" } });
    for await (const _chunk of stream);
    assert.deepEqual(pipeline.requests.at(-1)!.grammar, { type: "json_object" });
    await client.completions.create({ model: "fake", prompt: "p", response_format: { type: "json_schema", json_schema: { name: "n" } } } as never);
    assert.deepEqual(pipeline.requests.at(-1)!.grammar, { type: "json_schema", schema: {} });
    await client.chat.completions.create({ model: "fake", messages: [{ role: "user", content: "hi" }], response_format: { type: "text" } });
    assert.equal(pipeline.requests.at(-1)!.grammar, undefined);

    const cases: [Record<string, unknown>, unknown][] = [
      [{ response_format: { type: "regex", pattern: "[0-9]+" } }, { type: "regex", pattern: "[0-9]+" }],
      [{ response_format: { type: "grammar", grammar: 'root ::= "a"' } }, { type: "grammar", grammar: 'root ::= "a"' }],
      [{ response_format: { type: "choice", choices: ["yes", "no"] } }, { type: "choice", choices: ["yes", "no"] }],
      [{ guided_json: SCHEMA }, { type: "json_schema", schema: SCHEMA }],
      [{ guided_json: JSON.stringify(SCHEMA) }, { type: "json_schema", schema: SCHEMA }],
      [{ guided_regex: "a+" }, { type: "regex", pattern: "a+" }],
      [{ guided_grammar: 'root ::= "b"' }, { type: "grammar", grammar: 'root ::= "b"' }],
      [{ guided_choice: ["x", "y"] }, { type: "choice", choices: ["x", "y"] }],
    ];
    for (const [fields, grammar] of cases) {
      for (const path of ["/v1/completions", "/v1/chat/completions"]) {
        const body = path.endsWith("chat/completions") ? { model: "fake", messages: [{ role: "user", content: "hi" }], ...fields } : { model: "fake", prompt: "p", ...fields };
        const response = await postJson(`${base}${path}`, body);
        assert.equal(response.status, 200, `${path} ${JSON.stringify(fields)}: ${await response.text()}`);
        assert.deepEqual(pipeline.requests.at(-1)!.grammar, grammar, JSON.stringify(fields));
      }
    }
  } finally {
    await close();
  }
});

test("a grammar the pipeline refuses: 400 invalid_grammar, param naming the client's field, streamed or not", async () => {
  const { client, base, close } = await serve({}, { pipeline: new GrammarCheckingPipeline() });
  try {
    const bad = { type: "object", properties: { bad: { type: "string" } } };
    const cases: [Record<string, unknown>, string][] = [
      [{ response_format: { type: "json_schema", json_schema: { name: "x", schema: bad } } }, "response_format.json_schema.schema"],
      [{ response_format: { type: "regex", pattern: "bad(" } }, "response_format.pattern"],
      [{ response_format: { type: "grammar", grammar: "root ::= bad" } }, "response_format"],
      [{ guided_json: bad }, "guided_json"],
      [{ guided_regex: "bad" }, "guided_regex"],
    ];
    for (const [fields, param] of cases) {
      for (const stream of [false, true]) {
        const call = client.chat.completions.create({ model: "fake", messages: [{ role: "user", content: "hi" }], stream, ...fields } as never);
        await assert.rejects(call, (error) => {
          assert.ok(error instanceof OpenAI.BadRequestError, String(error));
          assert.equal(error.param, param);
          assert.equal(error.code, "invalid_grammar");
          assert.match(error.message, /not supported/);
          return true;
        });
      }
    }
    // Completions too, and the raw body's shape.
    const raw = await postJson(`${base}/v1/completions`, { model: "fake", prompt: "p", guided_json: bad });
    assert.equal(raw.status, 400);
    assert.deepEqual(await raw.json(), {
      error: { message: "The JSON schema at /bad: the keyword is not supported.", type: "invalid_request_error", param: "guided_json", code: "invalid_grammar" },
    });
  } finally {
    await close();
  }
});
