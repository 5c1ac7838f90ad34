import { test } from "node:test";
import assert from "node:assert/strict";
import { INFERENCE_DEFAULTS, INFERENCE_LIMITS, inferenceOptionsSchema, inferencePlugin, resolveInferenceOptions } from "../src/index.js";

test("inferenceOptionsSchema: defaults are INFERENCE_LIMITS and INFERENCE_DEFAULTS, partial defaults are filled in", () => {
  assert.deepEqual(inferenceOptionsSchema.parse({}), { ...INFERENCE_LIMITS, defaults: INFERENCE_DEFAULTS });
  assert.deepEqual(resolveInferenceOptions({ defaults: { temperature: 0.7, topK: undefined } }).defaults, { ...INFERENCE_DEFAULTS, temperature: 0.7, topK: undefined });
});

test("inferenceOptionsSchema refuses NaN and negatives, naming the field (nested ones by their path)", () => {
  const cases: [Record<string, unknown>, string, string][] = [
    [{ maxPromptChars: Number.NaN }, "maxPromptChars", "an integer ≥ 1"],
    [{ maxTokensLimit: -1 }, "maxTokensLimit", "an integer ≥ 1"],
    [{ maxStopSequences: -1 }, "maxStopSequences", "an integer ≥ 0"],
    [{ maxStopChars: 0 }, "maxStopChars", "an integer ≥ 1"],
    [{ maxTopLogprobs: -1 }, "maxTopLogprobs", "an integer ≥ 0"],
    [{ maxLogitBias: 0.5 }, "maxLogitBias", "an integer ≥ 0"],
    [{ defaults: { maxTokens: Number.NaN } }, "defaults.maxTokens", "an integer ≥ 1"],
    [{ defaults: { topK: -1 } }, "defaults.topK", "an integer ≥ 0"],
    [{ defaults: { temperature: Number.NaN } }, "defaults.temperature", "a number from 0 to 2"],
    [{ defaults: { temperature: -0.5 } }, "defaults.temperature", "a number from 0 to 2"],
    [{ defaults: { topP: -1 } }, "defaults.topP", "a number in (0, 1]"],
  ];
  for (const [options, field, expected] of cases) {
    const result = inferenceOptionsSchema.safeParse(options);
    assert.equal(result.success, false, field);
    assert.equal(result.error!.issues[0].path.join("."), field);
    assert.equal(result.error!.issues[0].message, `expected ${expected}`);
    assert.throws(() => inferencePlugin(options), { name: "TypeError", message: `inferencePlugin: ${field} must be ${expected}` });
  }
  assert.throws(() => inferencePlugin({ defaults: { maxTokens: 100 }, maxTokensLimit: 50 }), {
    message: "inferencePlugin: defaults.maxTokens: exceeds maxTokensLimit (50)",
  });
  assert.throws(() => inferencePlugin({ defaults: { max_tokens: 5 } } as never), { message: 'inferencePlugin: unknown option "defaults.max_tokens"' });
});
