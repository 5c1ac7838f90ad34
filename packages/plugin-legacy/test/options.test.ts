import { test } from "node:test";
import assert from "node:assert/strict";
import { LEGACY_DEFAULTS, legacyOptionsSchema, legacyPlugin, resolveLegacyOptions } from "../src/index.js";

test("legacyOptionsSchema: the defaults are LEGACY_DEFAULTS; modelId stays optional", () => {
  assert.deepEqual(legacyOptionsSchema.parse({}), LEGACY_DEFAULTS);
  assert.deepEqual(resolveLegacyOptions({ modelId: "m", maxInputTokens: undefined }), { ...LEGACY_DEFAULTS, modelId: "m" });
});

test("legacyOptionsSchema refuses NaN, zero, negatives and fractions, naming the field", () => {
  for (const field of ["maxSessionsPerConnection", "maxInputTokens", "maxInputChars", "maxSessionIdLength"] as const) {
    for (const bad of [Number.NaN, 0, -5, 2.5]) {
      const result = legacyOptionsSchema.safeParse({ [field]: bad });
      assert.equal(result.success, false, `${field}: ${bad}`);
      assert.deepEqual(result.error!.issues[0].path, [field]);
      assert.equal(result.error!.issues[0].message, "expected a positive integer");
      assert.throws(() => legacyPlugin({ [field]: bad }), { name: "TypeError", message: `legacyPlugin: ${field} must be a positive integer` });
    }
  }
  assert.throws(() => legacyPlugin({ sessionScope: "node" as never }), {
    message: 'legacyPlugin: sessionScope must be "global" or "connection"',
  });
  assert.throws(() => legacyPlugin({ modelId: "" }), { message: "legacyPlugin: modelId must be a model id" });
  assert.throws(() => legacyPlugin({ sessionscope: "global" } as never), { message: 'legacyPlugin: unknown option "sessionscope"' });
});
