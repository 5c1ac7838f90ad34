import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { BUNDLED_MODEL_DIR, ConfigError, loadConfig, type LoadedConfig } from "../src/index.js";

const exampleDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function load(argv: string[] = [], env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): LoadedConfig {
  const loaded = loadConfig({ argv, env, cwd });
  assert.notEqual(loaded, "help");
  return loaded as LoadedConfig;
}

function configError(argv: string[], env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): string {
  try {
    loadConfig({ argv, env, cwd });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail("expected a config error");
}

function tempFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "model-node-config-"));
  const file = join(dir, "config.json");
  writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

test("defaults: port 8702, the bundled model as tiny-gpt2 and test_model (the guide's id), auth off", () => {
  const { config } = load();
  assert.equal(config.port, 8702);
  assert.equal(config.host, undefined);
  assert.deepEqual(config.models, { "tiny-gpt2": BUNDLED_MODEL_DIR, test_model: BUNDLED_MODEL_DIR });
  assert.equal(config.auth.required, false);
  assert.equal(config.legacy.sessionScope, "global");
  assert.equal(config.logLevel, "info");
});

test("precedence: flags over environment over file; models in a file are relative to it", () => {
  const file = tempFile({ port: 9000, host: "10.0.0.1", models: { m: "." }, auth: { secret: "x".repeat(32) } });
  const fromFile = load(["--config", file]).config;
  assert.equal(fromFile.port, 9000);
  assert.deepEqual(fromFile.models, { m: dirname(file) });
  const fromEnv = load([], { MODELNODE_CONFIG: file, PORT: "9001", MODELNODE_AUTH_REQUIRED: "true", MODELNODE_AUTH_KEY_HASHES: `sha256:${"a".repeat(64)}` }).config;
  assert.equal(fromEnv.port, 9001);
  assert.equal(fromEnv.host, "10.0.0.1");
  assert.equal(fromEnv.auth.required, true);
  assert.equal(fromEnv.auth.secret, "x".repeat(32), "auth from the file merges with auth from the environment");
  const fromFlags = load(["--config", file, "--port", "9002", "--host", "127.0.0.1"], { PORT: "9001" }).config;
  assert.equal(fromFlags.port, 9002);
  assert.equal(fromFlags.host, "127.0.0.1");
});

test("--model id=dir (repeatable) and MODELNODE_MODELS choose the models served", () => {
  const repo = join(exampleDir, "..", "..");
  const { config } = load(["--model", "test_model=models/tiny-gpt2", "--model", "again=models/tiny-gpt2"], {}, repo);
  assert.deepEqual(Object.keys(config.models), ["test_model", "again"]);
  assert.equal(config.models.test_model, BUNDLED_MODEL_DIR);
  assert.deepEqual(Object.keys(load([], { MODELNODE_MODELS: "a=models/tiny-gpt2" }, repo).config.models), ["a"]);
});

test("the sample model-node.config.json is valid", () => {
  const { config } = load(["--config", join(exampleDir, "model-node.config.json")]);
  assert.equal(config.models["tiny-gpt2"], BUNDLED_MODEL_DIR);
});

test("bad values are errors naming the field, what was expected, and where it came from", () => {
  assert.equal(configError([], { PORT: "abc" }), "config error: port: expected integer between 0 and 65535 (from PORT)");
  assert.equal(configError(["--port", "70000"]), "config error: port: expected integer between 0 and 65535 (from --port)");
  assert.equal(configError(["--port", "80.5"]), "config error: port: expected integer between 0 and 65535 (from --port)");
  const file = tempFile({ port: "8702" });
  assert.equal(configError(["--config", file]), `config error: port: expected integer between 0 and 65535 (from ${file})`);
  assert.match(configError(["--log-level", "loud"]), /^config error: logLevel: expected one of fatal, error, .* \(from --log-level\)$/);
  assert.match(configError([], { MODELNODE_THREADS: "0" }), /^config error: threads: expected integer between 1 and 256 \(from MODELNODE_THREADS\)$/);
  assert.match(configError(["--config", tempFile({ limits: { maxSesions: 3 } })]), /config error: limits: unknown key "maxSesions"/);
  assert.match(configError(["--config", tempFile({ limits: { maxSessions: -1 } })]), /config error: limits\.maxSessions: expected integer ≥ 1/);
  assert.match(configError(["--config", tempFile({ limits: { grammarCompileTimeoutMs: 0 } })]), /config error: limits\.grammarCompileTimeoutMs: expected integer ≥ 1/);
  assert.match(configError(["--config", tempFile({ limits: { jsonMaxWhitespace: 65 } })]), /config error: limits\.jsonMaxWhitespace: expected an integer from 0 to 64/);
  assert.match(configError(["--config", tempFile({ limits: { maxTools: 0 } })]), /config error: limits\.maxTools: expected integer ≥ 1/);
  assert.match(configError(["--config", tempFile({ models: {} })]), /config error: models: expected at least one model/);
  assert.match(configError([], { MODELNODE_AUTH_SECRET: "short" }), /config error: auth\.secret: expected at least 32 characters \(from MODELNODE_AUTH_SECRET\)/);
  assert.match(configError(["--auth"]), /config error: auth\.keyHashes: expected at least one key hash when auth\.required is true/);
  assert.match(configError([], { MODELNODE_AUTH_KEY_HASHES: "plain-key" }), /auth\.keyHashes\.0: expected "sha256:" followed by 64/);
  assert.match(configError([], { MODELNODE_AUTH_REQUIRED: "maybe" }), /auth\.required: expected true or false \(from MODELNODE_AUTH_REQUIRED\)/);
  assert.match(
    configError(["--config", tempFile({ limits: { maxTokens: 32 }, inference: { defaults: { maxTokens: 64 } } })]),
    /config error: inference\.defaults\.maxTokens: expected at most limits\.maxTokens \(32\)/,
  );
  assert.match(
    configError(["--config", tempFile({ limits: { maxTokens: 32 }, ollama: { defaults: { maxTokens: 64 } } })]),
    /config error: ollama\.defaults\.maxTokens: expected at most limits\.maxTokens \(32\)/,
  );
  assert.match(configError(["--config", tempFile({ ollama: { enabled: "no" } })]), /config error: ollama\.enabled: expected true or false/);
  assert.match(configError(["--config", tempFile({ ollama: { version: "" } })]), /config error: ollama\.version: expected a version string of 1 to 64 characters/);
  assert.match(configError(["--config", tempFile({ ollama: { numCtx: 4 } })]), /config error: ollama: unknown key "numCtx"/);
  assert.match(configError(["--config", tempFile({ legacy: { modelId: "nope" } })]), /legacy\.modelId: expected one of the configured models \(tiny-gpt2, test_model\)/);
  assert.match(configError(["--config", tempFile({ anthropic: { maxContentBlocks: 0 } })]), /config error: anthropic\.maxContentBlocks: expected an integer ≥ 1/);
  assert.match(configError(["--config", tempFile({ anthropic: { defaults: { temperature: 1.5 } } })]), /config error: anthropic\.defaults\.temperature: expected a number from 0 to 1/);
  assert.match(configError(["--config", tempFile({ anthropic: { maxTokensLimit: 8 } })]), /config error: anthropic: unknown key "maxTokensLimit"/);
});

test("unreadable or malformed config files, unknown flags and missing model directories are config errors", () => {
  assert.match(configError(["--config", "/nonexistent/model-node.json"]), /cannot read config file \/nonexistent\/model-node\.json: ENOENT/);
  assert.match(configError(["--config", tempFile("{ port: 1 ")]), /is not valid JSON/);
  assert.match(configError(["--config", tempFile([1, 2])]), /must hold a JSON object/);
  assert.match(configError(["--prot", "1"]), /config error: Unknown option '--prot'/);
  assert.match(configError(["--model", "nodir"]), /models: expected id=dir or id=dir:dtype, got "nodir" \(from --model\)/);
  assert.match(configError(["--model", "m=/nonexistent/dir"]), /config error: models\.m: directory not found: \/nonexistent\/dir \(from --model\)/);
  assert.equal(loadConfig({ argv: ["--help"], env: {} }), "help");
});

test("a model may name a dtype: --model id=dir:q8, MODELNODE_MODELS, or { dir, dtype } in a file (dir relative to it)", () => {
  const flag = loadConfig({ argv: ["--model", `m=${BUNDLED_MODEL_DIR}:q8`, "--model", `n=${BUNDLED_MODEL_DIR}`], env: {} });
  assert.notEqual(flag, "help");
  assert.deepEqual((flag as LoadedConfig).config.models, { m: { dir: BUNDLED_MODEL_DIR, dtype: "q8" }, n: BUNDLED_MODEL_DIR });
  const dir = mkdtempSync(join(tmpdir(), "model-node-dtype-"));
  const file = join(dir, "c.json");
  writeFileSync(file, JSON.stringify({ models: { f: { dir: relative(dir, BUNDLED_MODEL_DIR), dtype: "fp16" } } }));
  const fromFile = loadConfig({ argv: ["--config", file], env: {} }) as LoadedConfig;
  assert.deepEqual(fromFile.config.models, { f: { dir: BUNDLED_MODEL_DIR, dtype: "fp16" } });
  writeFileSync(file, JSON.stringify({ models: { f: { dir: BUNDLED_MODEL_DIR, dtype: "fp8" } } }));
  assert.throws(() => loadConfig({ argv: ["--config", file], env: {} }), (error: Error) => error instanceof ConfigError && /models\.f/.test(error.message) && /q4f16/.test(error.message));
});
