/**
 * model-node.config.json is the file newcomers copy: every value it sets must be the value the
 * node would use without it (it shows the defaults, it does not change them), and it must load.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DEFAULT_LIMITS, DEFAULT_PORT } from "@modelnode/core/server";
import { DEFAULT_OPTIONS as ONNX_DEFAULTS } from "@modelnode/onnx";
import { INFERENCE_DEFAULTS, INFERENCE_LIMITS } from "@modelnode/plugin-inference";
import { LEGACY_DEFAULTS } from "@modelnode/plugin-legacy";
import { loadConfig } from "../src/index.js";

const SAMPLE = fileURLToPath(new URL("../../model-node.config.json", import.meta.url));

/** What each `limits` field means when it is not set: the default of the component it configures. */
const LIMIT_DEFAULTS: Record<string, unknown> = {
  ...DEFAULT_LIMITS,
  maxSessions: ONNX_DEFAULTS.maxSessions,
  sessionIdleMs: ONNX_DEFAULTS.sessionIdleMs,
  maxBatchSize: ONNX_DEFAULTS.maxBatchSize,
  maxQueuedGenerations: ONNX_DEFAULTS.maxQueuedGenerations,
  maxCacheBytes: ONNX_DEFAULTS.maxCacheBytes,
  prefillChunkTokens: ONNX_DEFAULTS.prefillChunkTokens,
  maxTokens: ONNX_DEFAULTS.maxTokensCeiling,
  maxPromptChars: INFERENCE_LIMITS.maxPromptChars,
  maxInputTokens: LEGACY_DEFAULTS.maxInputTokens,
};

test("the sample config loads, and every limit it sets is the current default", () => {
  const loaded = loadConfig({ argv: ["--config", SAMPLE], env: {} });
  assert.notEqual(loaded, "help");
  const sample = JSON.parse(readFileSync(SAMPLE, "utf8")) as Record<string, any>;
  for (const [key, value] of Object.entries(sample.limits ?? {})) {
    assert.ok(key in LIMIT_DEFAULTS, `limits.${key}: add its default to this test`);
    assert.equal(value, LIMIT_DEFAULTS[key], `limits.${key} in the sample is ${String(value)}, the default is ${String(LIMIT_DEFAULTS[key])}`);
  }
  // Where to listen is the caller's (--port, PORT, --host): the sample pins neither, so the
  // default port and every interface apply, as without it.
  assert.equal(sample.port, undefined, "the sample pins no port");
  assert.equal(sample.host, undefined, "the sample pins no host");
  assert.equal((loaded as { config: { port: number } }).config.port, DEFAULT_PORT);
  // The integration guide's clients ask for "test_model": the sample serves it, as `npm start` does.
  assert.deepEqual(Object.keys(sample.models).sort(), ["test_model", "tiny-gpt2"]);
  assert.equal(sample.models.test_model, sample.models["tiny-gpt2"], "one model under two ids (one load)");
  for (const [key, value] of Object.entries(sample.inference?.defaults ?? {})) {
    assert.equal(value, (INFERENCE_DEFAULTS as unknown as Record<string, unknown>)[key], `inference.defaults.${key}`);
  }
  assert.equal(sample.legacy?.sessionScope ?? LEGACY_DEFAULTS.sessionScope, LEGACY_DEFAULTS.sessionScope);
});
