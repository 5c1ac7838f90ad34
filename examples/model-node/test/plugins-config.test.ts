// The config's sections composed from the plugins' option schemas, and the `plugins` section
// validated by each extra plugin's own schema. Nothing here loads a model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { definePlugin, z, type Plugin } from "@modelnode/core";
import { ConfigError, configSchemaFor, createModelNode, loadConfig, pluginEntry, type ExtraPlugin, type LoadedConfig } from "../src/index.js";

const greeterOptions = z.strictObject({
  greeting: z.string({ error: "expected a string" }).min(1, { error: "expected a non-empty string" }).default("Hello"),
  maxNameChars: z.int({ error: "expected an integer ≥ 1" }).min(1, { error: "expected an integer ≥ 1" }).default(64),
});
const made: z.output<typeof greeterOptions>[] = [];
const greeter = pluginEntry({
  name: "greeter",
  options: greeterOptions,
  create: (options) => {
    made.push(options);
    return definePlugin({ name: "greeter" });
  },
});

function tempFile(content: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), "model-node-plugins-")), "config.json");
  writeFileSync(file, JSON.stringify(content));
  return file;
}

function load(argv: string[], env: NodeJS.ProcessEnv = {}, plugins: ExtraPlugin[] = [greeter]): LoadedConfig {
  const loaded = loadConfig({ argv, env, plugins });
  assert.notEqual(loaded, "help");
  return loaded as LoadedConfig;
}

function configError(argv: string[], env: NodeJS.ProcessEnv = {}, plugins: ExtraPlugin[] = [greeter]): string {
  try {
    loadConfig({ argv, env, plugins });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail("expected a config error");
}

test("plugins.<name> is validated by the plugin's schema; a missing section gets the schema's defaults", () => {
  assert.deepEqual(load([]).config.plugins, { greeter: { greeting: "Hello", maxNameChars: 64 } });
  const file = tempFile({ plugins: { greeter: { greeting: "Hi" } } });
  assert.deepEqual(load(["--config", file]).config.plugins, { greeter: { greeting: "Hi", maxNameChars: 64 } });
  // The environment's JSON merges over the file's, option by option.
  const merged = load(["--config", file], { MODELNODE_PLUGINS: '{"greeter":{"maxNameChars":8}}' }).config.plugins;
  assert.deepEqual(merged, { greeter: { greeting: "Hi", maxNameChars: 8 } });
});

test("a bad plugin option is an error naming plugins.<name>.<field> and where it came from", () => {
  const file = tempFile({ plugins: { greeter: { maxNameChars: -1 } } });
  assert.equal(configError(["--config", file]), `config error: plugins.greeter.maxNameChars: expected an integer ≥ 1 (from ${file})`);
  assert.equal(
    configError([], { MODELNODE_PLUGINS: '{"greeter":{"greeting":""}}' }),
    "config error: plugins.greeter.greeting: expected a non-empty string (from MODELNODE_PLUGINS)",
  );
  assert.equal(
    configError(["--config", tempFile({ plugins: { greeter: { greting: "Hi" } } })]).replace(/ \(from .*\)$/, ""),
    'config error: plugins.greeter: unknown key "greting"',
  );
  assert.match(configError([], { MODELNODE_PLUGINS: "{not json" }), /^config error: plugins: MODELNODE_PLUGINS is not valid JSON/);
  assert.match(configError([], { MODELNODE_PLUGINS: "[1]" }), /^config error: plugins: MODELNODE_PLUGINS must hold a JSON object/);
});

test("a plugin name no entry has is an error naming it", () => {
  const file = tempFile({ plugins: { greter: {} } });
  assert.equal(
    configError(["--config", file]),
    `config error: plugins: unknown plugin "greter" (plugins with options here: greeter; add one in src/extra-plugins.ts) (from ${file})`,
  );
  assert.match(
    configError([], { MODELNODE_PLUGINS: '{"count_tokens":{}}' }, []),
    /^config error: plugins: unknown plugin "count_tokens" \(no plugin takes options here; .*\) \(from MODELNODE_PLUGINS\)$/,
  );
  // Built-in plugins have sections of their own, not entries under plugins.
  assert.match(configError(["--config", tempFile({ plugins: { auth: {} } })], {}, []), /unknown plugin "auth"/);
});

test("auth, legacy, inference and limits take their rules from the plugins' schemas (NaN, negatives, unknown keys)", async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ auth: { maxFailedAttempts: 0 } }, /^config error: auth\.maxFailedAttempts: expected a whole number ≥ 1$/],
    [{ auth: { failureDelayMs: -1 } }, /^config error: auth\.failureDelayMs: expected a whole number ≥ 0$/],
    [{ auth: { maxFailedAttemps: 3 } }, /^config error: auth: unknown key "maxFailedAttemps"$/],
    [{ legacy: { maxSessionsPerConnection: Number.NaN } }, /^config error: legacy\.maxSessionsPerConnection: expected a positive integer$/],
    [{ legacy: { sessionScope: "node" } }, /^config error: legacy\.sessionScope: expected "global" or "connection"$/],
    [{ legacy: { maxInputTokens: 5 } }, /^config error: legacy: unknown key "maxInputTokens"$/],
    [{ inference: { defaults: { temperature: Number.NaN } } }, /^config error: inference\.defaults\.temperature: expected a number from 0 to 2$/],
    [{ inference: { defaults: { topK: -1 } } }, /^config error: inference\.defaults\.topK: expected an integer ≥ 0$/],
    [{ inference: { maxStopSequences: -1 } }, /^config error: inference\.maxStopSequences: expected an integer ≥ 0$/],
    [{ limits: { maxPromptChars: Number.NaN } }, /^config error: limits\.maxPromptChars: expected an integer ≥ 1$/],
    [{ limits: { maxInputTokens: -3 } }, /^config error: limits\.maxInputTokens: expected a positive integer$/],
    [{ limits: { maxConnections: 0 } }, /^config error: limits\.maxConnections: expected an integer ≥ 1$/],
    [{ plugins: { greeter: { maxNameChars: Number.NaN } } }, /^config error: plugins\.greeter\.maxNameChars: expected an integer ≥ 1$/],
  ];
  for (const [input, expected] of cases) {
    await assert.rejects(createModelNode(input, { plugins: [greeter] }), (error: Error) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, expected);
      return true;
    });
  }
  // Options the config did not list before come with the plugins' schemas.
  const { data } = configSchemaFor([]).safeParse({ auth: { addressFailureLimit: 0 }, legacy: { maxInputChars: 100 }, inference: { maxStopChars: 8 } });
  assert.equal(data?.auth.addressFailureLimit, 0);
  assert.equal(data?.legacy.maxInputChars, 100);
  assert.equal(data?.inference.maxStopChars, 8);
  // The example's own defaults stay: auth off, and defaults.maxTokens left to follow limits.maxTokens.
  assert.equal(data?.auth.required, false);
  assert.equal(data?.inference.defaults.maxTokens, undefined);
});

test("createModelNode: entries are made from their validated options before any model loads; their mistakes name the entry", async () => {
  made.length = 0;
  const failing = pluginEntry({
    name: "failing",
    options: z.strictObject({}),
    create: () => {
      throw new Error("cannot start");
    },
  });
  await assert.rejects(createModelNode({ plugins: { greeter: { greeting: "Hey" } } }, { plugins: [greeter, failing] }), {
    message: "plugins.failing: cannot start",
  });
  assert.deepEqual(made, [{ greeting: "Hey", maxNameChars: 64 }]);
  const misnamed = pluginEntry({ name: "named", options: z.strictObject({}), create: () => definePlugin({ name: "other" }) });
  await assert.rejects(createModelNode({}, { plugins: [misnamed] }), /plugins\.named: create\(\) made a plugin named "other"/);
  await assert.rejects(createModelNode({}, { plugins: [greeter, greeter] }), { name: "TypeError", message: 'two plugin entries are named "greeter"' });
  // A ready-made plugin takes no options, so it has no section: naming it under plugins is an error.
  const ready: Plugin = definePlugin({ name: "ready" });
  await assert.rejects(createModelNode({ plugins: { ready: {} } }, { plugins: [ready] }), /plugins: unknown plugin "ready"/);
});
