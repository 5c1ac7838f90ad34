/**
 * Structured output (GenerateRequest.grammar) on the tiny random-weight model at temperature 1:
 * the model's own choices are noise, so every output being valid is the grammar's doing. Each
 * kind runs SEEDS seeds at once, so they share decode batches (with each other and, in the mixed
 * test, with unconstrained rows). Strings are bounded (maxLength, enum, pattern): a free string
 * closes only by chance on random weights, and then max_tokens ends it ("length").
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Ajv } from "ajv";
import { choiceRequests } from "@modelnode/core";
import type { GenerationResult, GrammarSpec } from "@modelnode/core/pipeline";
import type { OnnxPipeline } from "../src/index.js";
import { tinyPipeline } from "./helpers.js";

let pipeline: OnnxPipeline;
before(async () => {
  pipeline = await tinyPipeline({ maxBatchSize: 64, maxTokensCeiling: 512 });
});
after(() => pipeline.close());

const SEEDS = Number(process.env.STRUCTURED_SEEDS ?? 50);
const MAX_TOKENS = 160;

export const SCHEMAS: Record<string, Record<string, unknown>> = {
  nested: {
    type: "object",
    additionalProperties: false,
    required: ["user", "active"],
    properties: {
      user: {
        type: "object",
        additionalProperties: false,
        required: ["name", "id"],
        properties: { name: { type: "string", minLength: 1, maxLength: 6 }, id: { type: "integer", minimum: 1, maximum: 999 } },
      },
      active: { type: "boolean" },
    },
  },
  arrays: {
    type: "object",
    additionalProperties: false,
    required: ["tags", "points"],
    properties: {
      tags: { type: "array", minItems: 1, maxItems: 3, items: { enum: ["a", "b", "c"] } },
      points: { type: "array", minItems: 2, maxItems: 2, items: { type: "integer", minimum: -9, maximum: 9 } },
    },
  },
  enums: { enum: ["red", "green", "blue", 42, null, { deep: [1, "x"] }] },
  numbers: {
    type: "object",
    additionalProperties: false,
    required: ["count", "ratio", "score", "temp"],
    properties: {
      count: { type: "integer", minimum: 0, maximum: 120 },
      ratio: { type: "number", minimum: 0, maximum: 1 },
      score: { type: "number", exclusiveMinimum: -5, exclusiveMaximum: 5 },
      temp: { type: "integer", minimum: -40, exclusiveMaximum: 60 },
    },
  },
  patterns: {
    type: "object",
    additionalProperties: false,
    required: ["code", "id", "any", "not"],
    properties: {
      code: { type: "string", pattern: "^[A-Z]{2}-[0-9]{3}$" },
      id: { type: "string", format: "uuid" },
      // "." and a negated class: never a quote, backslash or control character raw, never a stray UTF-8 byte.
      any: { type: "string", pattern: "^.{2,3}$" },
      not: { type: "string", pattern: "^[^a]{1,4}$" },
    },
  },
  optional: {
    type: "object",
    additionalProperties: false,
    required: ["id"],
    properties: {
      id: { type: "integer", minimum: 0, maximum: 9 },
      note: { anyOf: [{ type: "string", maxLength: 5 }, { type: "null" }] },
      flag: { type: "boolean" },
      level: { $ref: "#/$defs/level" },
    },
    $defs: { level: { enum: ["low", "high"] } },
  },
};

const ajv = new Ajv({ strict: false });

function run(grammar: GrammarSpec | undefined, seed: number, extra: Record<string, unknown> = {}): Promise<GenerationResult> {
  return pipeline.generate({ modelId: "tiny", prompt: `Answer ${seed}:`, temperature: 1, seed, maxTokens: MAX_TOKENS, ...(grammar ? { grammar } : {}), ...extra });
}

/** Whitespace outside strings comes in runs of at most 2 characters (the default jsonMaxWhitespace). */
function assertBoundedWhitespace(text: string): void {
  assert.ok(!/\s{3}/.test(text.replace(/"(?:[^"\\]|\\.)*"/g, '""')), JSON.stringify(text));
}

for (const [name, schema] of Object.entries(SCHEMAS)) {
  test(`json_schema "${name}": ${SEEDS} seeds at temperature 1 all parse and validate (ajv)`, async () => {
    const validate = ajv.compile(schema);
    const results = await Promise.all(Array.from({ length: SEEDS }, (_, seed) => run({ type: "json_schema", schema }, seed)));
    for (const result of results) {
      assert.equal(result.finishReason, "stop", JSON.stringify(result.text));
      const value = JSON.parse(result.text);
      assert.ok(validate(value), `${result.text}: ${JSON.stringify(validate.errors)}`);
      assertBoundedWhitespace(result.text);
    }
  });
}

test(`regex, grammar and choice: ${SEEDS} seeds each, all match`, async () => {
  const choices = ["yes", "no", 'say "hi"\n', "ünï ☃", "a\\b"];
  const grammar = 'root ::= "x" [0-9] [0-9]? ("," item)* "y"\nitem ::= [a-c]{1,3}';
  const runs = Array.from({ length: SEEDS }, (_, seed) => [
    run({ type: "regex", pattern: "[0-9]{3}-[a-z]{2,4}" }, seed),
    run({ type: "choice", choices }, seed),
    run({ type: "grammar", grammar }, seed),
  ]);
  for (const [regex, choice, ebnf] of await Promise.all(runs.map((trio) => Promise.all(trio)))) {
    assert.match(regex.text, /^[0-9]{3}-[a-z]{2,4}$/);
    assert.equal(regex.finishReason, "stop");
    assert.ok(choices.includes(choice.text), JSON.stringify(choice.text));
    // A grammar whose repetition is unbounded may run to max_tokens: then it is a valid prefix.
    if (ebnf.finishReason === "stop") assert.match(ebnf.text, /^x[0-9]{1,2}(,[a-c]{1,3})*y$/);
    else assert.match(ebnf.text, /^x[0-9]{1,2}(,[a-c]{1,3})*,?[a-c]{0,3}$/);
  }
});

test("json_object: any JSON object (or, at max_tokens, the start of one: free strings seldom close on random weights)", async () => {
  const results = await Promise.all(Array.from({ length: 16 }, (_, seed) => run({ type: "json_object" }, seed, { maxTokens: 48 })));
  for (const result of results) {
    assert.match(result.text, /^\s{0,2}\{/);
    if (result.finishReason === "length") continue;
    const value = JSON.parse(result.text);
    assert.ok(typeof value === "object" && value !== null && !Array.isArray(value), result.text);
    assertBoundedWhitespace(result.text);
  }
});

test("mixed batches: an unconstrained row's text is the same with and without constrained neighbours (greedy and seeded)", async () => {
  const plain = [
    { modelId: "tiny", prompt: "Once upon a time", maxTokens: 40, temperature: 0 },
    { modelId: "tiny", prompt: "The weather today", maxTokens: 40, temperature: 1, seed: 7 },
  ];
  const solo = await Promise.all(plain.map((request) => pipeline.generate(request)));
  const runsBefore = pipeline.stats().decodeRuns;
  const rowsBefore = pipeline.stats().decodeRows;
  const constrained = Array.from({ length: 12 }, (_, seed) => run({ type: "json_schema", schema: SCHEMAS.numbers }, 100 + seed));
  const mixed = await Promise.all([...plain.map((request) => pipeline.generate(request)), ...constrained]);
  for (let i = 0; i < plain.length; i++) {
    assert.equal(mixed[i].text, solo[i].text);
    assert.equal(mixed[i].finishReason, solo[i].finishReason);
  }
  for (const result of mixed.slice(plain.length)) assert.ok(ajv.validate(SCHEMAS.numbers, JSON.parse(result.text)), result.text);
  const runs = pipeline.stats().decodeRuns - runsBefore;
  assert.ok(pipeline.stats().decodeRows - rowsBefore > runs * 2, "constrained and unconstrained rows were batched together");
});

test("greedy constrained generation is deterministic, with stop strings honoured", async () => {
  const grammar: GrammarSpec = { type: "json_schema", schema: SCHEMAS.nested };
  const [a, b] = await Promise.all([run(grammar, 1, { temperature: 0 }), run(grammar, 2, { temperature: 0, prompt: "Answer 1:" })]);
  assert.equal(a.text, (await run(grammar, 1, { temperature: 0 })).text);
  assert.ok(ajv.validate(SCHEMAS.nested, JSON.parse(a.text)), a.text);
  assert.ok(b.text.length > 0);
  // A stop string inside the JSON ends it there: "stop", the text before the stop string.
  const stopped = await run(grammar, 1, { temperature: 0, stop: ['"active"'] });
  assert.equal(stopped.finishReason, "stop");
  assert.equal(stopped.text, a.text.slice(0, a.text.indexOf('"active"')));
});

test("max_tokens reached before the grammar is complete: finish_reason length, a prefix of valid JSON", async () => {
  const results = await Promise.all([1, 2, 3].map((seed) => run({ type: "json_schema", schema: SCHEMAS.nested }, seed, { maxTokens: 4 })));
  for (const result of results) {
    assert.equal(result.finishReason, "length");
    assert.equal(result.usage.completionTokens, 4);
    assert.match(result.text, /^\s{0,2}\{/);
  }
});

test("with the rest of the sampling surface: n choices (one prefill) each follow the grammar, as each alone does; penalties, bias and logprobs never bring back a masked token", async () => {
  const grammar: GrammarSpec = { type: "json_schema", schema: SCHEMAS.nested };
  const request = { modelId: "tiny", prompt: "Choices:", temperature: 1, seed: 70, maxTokens: MAX_TOKENS, grammar, logprobs: 2, presencePenalty: 1.5, repetitionPenalty: 1.3, logitBias: { 0: 100, 90: 100 } };
  const before = pipeline.stats().prefillRows;
  const choices = await Promise.all(choiceRequests(request, 3).map((each) => pipeline.generate(each)));
  assert.equal(pipeline.stats().prefillRows - before, 1, "one prefill input for the three");
  for (const [index, choice] of choices.entries()) {
    assert.equal(choice.finishReason, "stop", choice.text);
    assert.ok(ajv.validate(SCHEMAS.nested, JSON.parse(choice.text)), choice.text);
    assert.equal((await pipeline.generate({ ...request, seed: 70 + index })).text, choice.text, "each choice is what the request alone gives");
    // The logprobs describe the masked distribution: each chosen token was allowed (finite), and
    // an alternative is either allowed or -Infinity (fewer allowed tokens than asked for).
    assert.equal(choice.logprobs?.length, choice.usage.completionTokens);
    for (const entry of choice.logprobs ?? []) assert.ok(Number.isFinite(entry.logprob), JSON.stringify(entry));
  }
});
