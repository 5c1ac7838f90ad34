/** The `options` mapping (Ollama's names → the pipeline's sampling), its refusals by name, and the plugin's own options. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MAX_TOKENS, GENERATION_LIMITS } from "@modelnode/core";
import { LOAD_TIME_OPTIONS, ollamaPlugin, optionsSchema, resolveOllamaOptions, samplingOf } from "../src/index.js";

const limits = resolveOllamaOptions();
const schema = optionsSchema(limits);

/** The messages of a refused `options` object, as "path: message". */
function refusal(options: unknown): string[] {
  const parsed = schema.safeParse(options);
  assert.equal(parsed.success, false, `expected ${JSON.stringify(options)} to be refused`);
  return parsed.error!.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

test("every sampling option maps to the pipeline's field; num_predict -1 and -2 mean maxTokensLimit", () => {
  const options = schema.parse({
    temperature: 0.7,
    top_p: 0.9,
    top_k: 40,
    min_p: 0.05,
    seed: 42,
    num_predict: 12,
    stop: ["\n", "END"],
    repeat_penalty: 1.1,
    presence_penalty: 0.5,
    frequency_penalty: -0.5,
  });
  assert.deepEqual(samplingOf(options, limits), {
    temperature: 0.7,
    topP: 0.9,
    topK: 40,
    minP: 0.05,
    seed: 42,
    maxTokens: 12,
    stop: ["\n", "END"],
    repetitionPenalty: 1.1,
    presencePenalty: 0.5,
    frequencyPenalty: -0.5,
  });
  assert.equal(samplingOf(schema.parse({ num_predict: -1 }), { maxTokensLimit: 300 }).maxTokens, 300);
  assert.equal(samplingOf(schema.parse({ num_predict: -2 }), { maxTokensLimit: 7 }).maxTokens, 7);
  assert.deepEqual(samplingOf(undefined, limits), {}, "no options: every default applies");
  assert.equal(samplingOf(schema.parse({}), limits).maxTokens, undefined);
});

test("load-time options are accepted (type-checked) and change nothing; sampling's defaults are accepted", () => {
  const hints = { num_ctx: 4096, num_batch: 512, num_gpu: 1, main_gpu: 0, num_thread: 8, use_mmap: true, use_mlock: false, low_vram: false, f16_kv: true, vocab_only: false, numa: false };
  assert.deepEqual(Object.keys(hints).sort(), [...LOAD_TIME_OPTIONS].sort(), "the list the docs name");
  assert.deepEqual(samplingOf(schema.parse(hints), limits), samplingOf(schema.parse({}), limits));
  assert.deepEqual(refusal({ num_ctx: "big" }), ["num_ctx: expected an integer"]);
  assert.deepEqual(refusal({ use_mmap: 1 }), ["use_mmap: expected true or false"]);
  const defaults = { repeat_last_n: -1, typical_p: 1, tfs_z: 1, mirostat: 0, penalize_newline: false };
  assert.deepEqual(samplingOf(schema.parse(defaults), limits), samplingOf(schema.parse({}), limits));
});

test("options this node cannot follow, and unknown ones, are refused by name", () => {
  assert.deepEqual(refusal({ repeat_last_n: 64 }), ["repeat_last_n: only -1 is supported: the penalties here look at the whole prompt and generation"]);
  assert.deepEqual(refusal({ mirostat: 2, mirostat_tau: 5 }), [
    "mirostat: not supported: only 0 (off) is accepted",
    "mirostat_tau: not supported: this node has no mirostat sampling",
  ]);
  assert.match(refusal({ typical_p: 0.5 })[0], /^typical_p: not supported/);
  assert.match(refusal({ tfs_z: 0.9 })[0], /^tfs_z: not supported/);
  assert.match(refusal({ penalize_newline: true })[0], /^penalize_newline: not supported/);
  assert.match(refusal({ num_keep: 5 })[0], /^num_keep: not supported/);
  assert.deepEqual(refusal({ temprature: 0.5, foo: 1 }), [': unknown options "temprature", "foo" (see docs/plugin-ollama.md for those this node takes)']);
  assert.deepEqual(refusal("hot"), [": expected an object of options"]);
});

test("values out of range are refused naming the option and the range", () => {
  assert.deepEqual(refusal({ temperature: 2.5 }), ["temperature: expected a number from 0 to 2"]);
  assert.deepEqual(refusal({ top_p: 0 }), ["top_p: expected a number more than 0 and at most 1"]);
  assert.deepEqual(refusal({ top_k: -1 }), ["top_k: expected an integer ≥ 0"]);
  assert.deepEqual(refusal({ seed: 1.5 }), ["seed: expected an integer"]);
  assert.deepEqual(refusal({ num_predict: 0 }), [`num_predict: expected -1, -2 or an integer from 1 to ${GENERATION_LIMITS.maxTokensLimit}`]);
  assert.deepEqual(refusal({ num_predict: GENERATION_LIMITS.maxTokensLimit + 1 }), [`num_predict: expected -1, -2 or an integer from 1 to ${GENERATION_LIMITS.maxTokensLimit}`]);
  assert.deepEqual(refusal({ repeat_penalty: 0 }), ["repeat_penalty: expected a number more than 0 and at most 2"]);
  assert.deepEqual(refusal({ stop: "\n" }), ["stop: expected an array of strings"]);
  assert.deepEqual(refusal({ stop: ["a", "b", "c", "d", "e"] }), ["stop: expected at most 4 stop sequences"]);
  assert.deepEqual(refusal({ stop: [""] }), ["stop.0: expected a string of 1 to 64 characters"]);
});

test("the plugin's options: defaults, and bad ones refused when the node is composed", () => {
  assert.deepEqual(resolveOllamaOptions(), { ...GENERATION_LIMITS, defaults: { maxTokens: DEFAULT_MAX_TOKENS } });
  const plugin = ollamaPlugin();
  assert.equal(plugin.name, "ollama");
  assert.equal(plugin.core, "^0.1.0");
  assert.deepEqual(
    plugin.routes?.map((r) => `${r.method} ${r.path}`),
    ["GET /api/version", "GET /api/tags", "GET /api/ps", "POST /api/show", "POST /api/generate", "POST /api/chat", ...["GET", "POST", "PUT", "PATCH", "DELETE"].map((m) => `${m} /api/*`)],
  );
  assert.throws(() => ollamaPlugin({ maxTokensLimit: 0 }), { name: "TypeError", message: "ollamaPlugin: maxTokensLimit must be an integer ≥ 1" });
  assert.throws(() => ollamaPlugin({ maxTokensLimit: 10, defaults: { maxTokens: 20 } }), /defaults\.maxTokens: exceeds maxTokensLimit \(10\)/);
  assert.throws(() => ollamaPlugin({ version: "" }), /version must be a version string of 1 to 64 characters/);
  assert.throws(() => ollamaPlugin({ maxBodyBytes: 0 }), /maxBodyBytes must be an integer ≥ 1/);
  assert.throws(() => ollamaPlugin({ numCtx: 5 } as never), /unknown option "numCtx"/);
});
