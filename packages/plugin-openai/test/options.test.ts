/** openaiPlugin's options: defaults, and bad options refused when the node is composed, naming the field. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { openaiOptionsSchema, openaiPlugin, OPENAI_DEFAULTS, OPENAI_LIMITS, resolveOpenAIOptions } from "../src/index.js";

test("defaults: the inference plugin's limits and sampling defaults", () => {
  assert.deepEqual(resolveOpenAIOptions(), {
    ...OPENAI_LIMITS,
    maxBodyBytes: undefined,
    ownedBy: "modelnode",
    tokenizerRoutes: true,
    maxStoredResponses: 256,
    maxStoredResponseBytes: 16 * 1024 * 1024,
    defaults: OPENAI_DEFAULTS,
  });
  assert.deepEqual(OPENAI_DEFAULTS, { maxTokens: 64 }, "sampling is the pipeline's (and the model's) unless configured");
  assert.deepEqual(OPENAI_LIMITS, {
    maxPromptChars: 32_768,
    maxChatMessages: 64,
    maxChatChars: 32_768,
    maxTokensLimit: 4096,
    maxStopSequences: 4,
    maxStopChars: 64,
    maxTopLogprobs: 20,
    maxLogitBias: 300,
    maxChoices: 8,
  });
  const plugin = openaiPlugin();
  assert.equal(plugin.name, "openai");
  assert.equal(plugin.core, "^0.1.0");
  assert.deepEqual(
    plugin.routes?.map((r) => `${r.method} ${r.path}`),
    [
      "GET /v1/models",
      "GET /v1/models/:model",
      "POST /v1/completions",
      "POST /v1/chat/completions",
      "POST /v1/responses",
      "GET /v1/responses/:id",
      "DELETE /v1/responses/:id",
      "POST /tokenize",
      "POST /detokenize",
      ...["GET", "POST", "PUT", "PATCH", "DELETE"].map((method) => `${method} /v1/*`),
    ],
  );
  assert.deepEqual(
    openaiPlugin({ tokenizerRoutes: false }).routes?.filter((r) => r.path.endsWith("tokenize")),
    [],
    "tokenizerRoutes: false leaves the tokenizer routes out",
  );
});

test("bad options throw a TypeError naming each field", () => {
  assert.throws(() => openaiPlugin({ maxTokensLimit: 0 }), { name: "TypeError", message: "openaiPlugin: maxTokensLimit must be an integer ≥ 1" });
  assert.throws(() => openaiPlugin({ defaults: { temperature: 3 } }), /defaults\.temperature must be a number from 0 to 2/);
  assert.throws(() => openaiPlugin({ maxTokensLimit: 10, defaults: { maxTokens: 20 } }), /defaults\.maxTokens: exceeds maxTokensLimit \(10\)/);
  assert.throws(() => openaiPlugin({ maxPromptChar: 5 } as never), /unknown option "maxPromptChar"/);
  assert.throws(() => openaiPlugin({ ownedBy: "" }), /ownedBy must be a string of 1 to 256 characters/);
  assert.throws(() => openaiPlugin({ maxChoices: 0 }), /maxChoices must be an integer ≥ 1/);
  assert.throws(() => openaiPlugin({ tokenizerRoutes: "yes" } as never), /tokenizerRoutes must be true or false/);
  assert.throws(() => openaiPlugin({ maxTopLogprobs: -1 }), /maxTopLogprobs must be an integer ≥ 0/);
  assert.throws(() => openaiPlugin({ maxLogitBias: 1.5 }), /maxLogitBias must be an integer ≥ 0/);
});

test("the schema composes into an application's config through .shape", () => {
  const { maxStopSequences, defaults } = openaiOptionsSchema.shape;
  assert.equal(maxStopSequences.parse(undefined), 4);
  assert.deepEqual(defaults.parse({}), OPENAI_DEFAULTS);
});
