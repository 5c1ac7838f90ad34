// The models directory's settings from flags and files: durations and sizes as people write them,
// the bundled model left out when a directory is served, and bad values as config errors naming
// the field and the flag.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUNDLED_MODEL_DIR, loadConfig, type LoadedConfig } from "../src/index.js";
import { parseDuration, parseSize } from "../src/lifecycle-config.js";

function load(argv: string[], cwd = process.cwd()): LoadedConfig {
  const loaded = loadConfig({ argv, env: {}, cwd });
  assert.notEqual(loaded, "help");
  return loaded as LoadedConfig;
}

function configError(argv: string[]): string {
  try {
    loadConfig({ argv, env: {} });
  } catch (error) {
    return (error as Error).message;
  }
  return assert.fail("expected a config error");
}

test("durations and sizes as Ollama and people write them", () => {
  assert.equal(parseDuration("5m"), 300_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("30"), 30_000, "a bare number is seconds, as in Ollama");
  assert.equal(parseDuration("-1"), -1000);
  assert.equal(parseDuration("soon"), undefined);
  assert.equal(parseSize("8GiB"), 8 * 2 ** 30);
  assert.equal(parseSize("512MB"), 512e6);
  assert.equal(parseSize("1024"), 1024);
  assert.equal(parseSize("lots"), undefined);
});

test("--models-dir serves a directory (without the bundled model unless --model says so), with the lifecycle flags", () => {
  const dir = mkdtempSync(join(tmpdir(), "modelnode-models-dir-config-"));
  const { config } = load(["--models-dir", dir, "--keep-alive=-1", "--max-loaded-models", "2", "--models-memory-budget", "2GiB", "--model-load-timeout", "30s"]);
  assert.equal(config.modelsDir, dir);
  assert.deepEqual(config.models, {});
  assert.deepEqual(config.modelLifecycle, { keepAlive: -1, maxLoadedModels: 2, memoryBudget: 2 * 2 ** 30, loadTimeout: 30_000 });
  const defaults = load([]).config;
  assert.equal(defaults.models["tiny-gpt2"], BUNDLED_MODEL_DIR);
  assert.equal(defaults.modelLifecycle.keepAlive, 300_000);
  const both = load(["--models-dir", dir, "--model", `explicit=${BUNDLED_MODEL_DIR}`]).config;
  assert.deepEqual(Object.keys(both.models), ["explicit"]);
  // In a file: relative to the file, numbers as ms and bytes.
  const file = join(dir, "node.json");
  writeFileSync(file, JSON.stringify({ modelsDir: ".", modelLifecycle: { keepAlive: 1500, memoryBudget: 1000 } }));
  const fromFile = load(["--config", file]).config;
  assert.equal(fromFile.modelsDir, dir);
  assert.equal(fromFile.modelLifecycle.keepAlive, 1500);
  assert.equal(fromFile.modelLifecycle.memoryBudget, 1000);
});

test("bad lifecycle values and a missing models directory are config errors naming the field and the flag", () => {
  assert.match(configError(["--models-dir", "/no/such/dir"]), /modelsDir: directory not found: \/no\/such\/dir \(from --models-dir\)/);
  assert.match(configError(["--keep-alive", "soon"]), /modelLifecycle\.keepAlive.*expected a duration.*--keep-alive/);
  assert.match(configError(["--max-loaded-models", "0"]), /modelLifecycle\.maxLoadedModels.*≥ 1.*--max-loaded-models/);
  assert.match(configError(["--models-memory-budget", "lots"]), /modelLifecycle\.memoryBudget.*expected a size.*--models-memory-budget/);
  assert.match(configError(["--model-load-timeout", "0"]), /modelLifecycle\.loadTimeout.*from 1 ms/);
});

test("pull on demand: off by default; --pull-on-demand, --hub-url, --pull-timeout and the environment set it; it needs a models directory", () => {
  const dir = mkdtempSync(join(tmpdir(), "modelnode-pull-config-"));
  assert.equal(load(["--models-dir", dir]).config.pullOnDemand.enabled, false);
  const { config } = load(["--models-dir", dir, "--pull-on-demand", "--hub-url", "http://127.0.0.1:9/mirror", "--pull-timeout", "10m"]);
  assert.deepEqual(config.pullOnDemand, { enabled: true, hubUrl: "http://127.0.0.1:9/mirror", timeout: 600_000 });
  const fromEnv = loadConfig({ argv: ["--models-dir", dir], env: { MODELNODE_PULL_ON_DEMAND: "1", HF_ENDPOINT: "https://hf-mirror.example" }, cwd: process.cwd() });
  assert.notEqual(fromEnv, "help");
  assert.deepEqual((fromEnv as LoadedConfig).config.pullOnDemand, { enabled: true, hubUrl: "https://hf-mirror.example", timeout: 30 * 60_000 });
  assert.match(configError(["--pull-on-demand"]), /pullOnDemand\.enabled: expected a modelsDir.*--pull-on-demand/);
  assert.match(configError(["--models-dir", dir, "--pull-on-demand", "--hub-url", "not a url"]), /pullOnDemand\.hubUrl: expected an http\(s\) URL.*--hub-url/);
  assert.match(configError(["--models-dir", dir, "--pull-on-demand", "--pull-timeout", "soon"]), /pullOnDemand\.timeout.*expected a duration.*--pull-timeout/);
});
