/**
 * inference_request's response_format (OpenAI's shape plus regex, grammar, choice) reaches the
 * pipeline as GenerateRequest.grammar; the pipeline's INVALID_GRAMMAR names the field as the
 * client wrote it, streamed or not; a malformed response_format is VALIDATION_FAILED.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { errors, type GenerateRequest, type GenerationEvent } from "@modelnode/core";
import { pipelinePlugin } from "@modelnode/core/server";
import { FakePipeline } from "@modelnode/testing";
import { inferencePlugin } from "../src/index.js";
import { nodeWith, send } from "./harness.js";

class GrammarCheckingPipeline extends FakePipeline {
  override async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    if (request.grammar?.type === "json_schema" && "bad" in request.grammar.schema) {
      throw errors.invalidGrammar('The JSON schema at /bad: the keyword "bad" is not supported.', "grammar.schema");
    }
    if (request.grammar?.type === "choice" && request.grammar.choices.includes("bad")) throw errors.invalidGrammar("The choices must be fine.", "grammar.choices");
    yield* super.stream(request);
  }
}

test("response_format becomes the request's grammar", async () => {
  const pipeline = new FakePipeline();
  const node = await nodeWith([inferencePlugin(), pipelinePlugin(pipeline)]);
  const schema = { type: "object", properties: { a: { type: "integer" } } };
  const cases: [unknown, unknown][] = [
    [{ type: "json_schema", json_schema: { name: "a", schema, strict: false } }, { type: "json_schema", schema, strict: false }],
    [{ type: "json_object" }, { type: "json_object" }],
    [{ type: "regex", pattern: "[a-z]+" }, { type: "regex", pattern: "[a-z]+" }],
    [{ type: "grammar", grammar: 'root ::= "x"' }, { type: "grammar", grammar: 'root ::= "x"' }],
    [{ type: "choice", choices: ["a", "b"] }, { type: "choice", choices: ["a", "b"] }],
    [{ type: "text" }, undefined],
  ];
  for (const [format, grammar] of cases) {
    await send(node, "inference_request", { model_id: "fake", prompt: "p", response_format: format, stream: true });
    assert.deepEqual(pipeline.requests.at(-1)!.grammar, grammar, JSON.stringify(format));
  }
  await assert.rejects(send(node, "inference_request", { model_id: "fake", prompt: "p", response_format: { type: "xml" } }), (error: any) => {
    assert.equal(error.code, "VALIDATION_FAILED");
    assert.match(error.message, /response_format/);
    return true;
  });
  await node.close();
});

test("INVALID_GRAMMAR names the client's field (response_format.json_schema.schema, …), streamed or not", async () => {
  const node = await nodeWith([inferencePlugin(), pipelinePlugin(new GrammarCheckingPipeline())]);
  const cases: [unknown, string][] = [
    [{ type: "json_schema", json_schema: { name: "a", schema: { bad: true } } }, "response_format.json_schema.schema"],
    [{ type: "choice", choices: ["bad"] }, "response_format.choices"],
  ];
  for (const [format, field] of cases) {
    for (const stream of [false, true]) {
      await assert.rejects(send(node, "inference_request", { model_id: "fake", prompt: "p", response_format: format, stream }), (error: any) => {
        assert.equal(error.code, "INVALID_GRAMMAR");
        assert.deepEqual(error.details, { field });
        return true;
      });
    }
  }
  await node.close();
});
