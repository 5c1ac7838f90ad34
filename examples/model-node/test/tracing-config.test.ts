/**
 * Tracing in the example node: `tracing` in the config file, MODELNODE_OTLP_TRACES_ENDPOINT and
 * OTEL_SERVICE_NAME, --otlp-traces-endpoint and --otlp-service-name, with the usual precedence and
 * errors; and, with no endpoint, no tracing plugin and not one OpenTelemetry module loaded.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, type LoadedConfig } from "../src/index.js";

function load(argv: string[] = [], env: NodeJS.ProcessEnv = {}): LoadedConfig {
  const loaded = loadConfig({ argv, env });
  assert.notEqual(loaded, "help");
  return loaded as LoadedConfig;
}

function configError(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    loadConfig({ argv, env });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail("expected a config error");
}

function tempFile(content: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), "model-node-tracing-")), "config.json");
  writeFileSync(file, JSON.stringify(content));
  return file;
}

test("tracing is off by default; the endpoint and service name come from the file, the environment and flags, in that precedence", () => {
  assert.deepEqual(load().config.tracing, { serviceName: "modelnode", sampleRatio: 1 });
  const file = tempFile({ tracing: { endpoint: "http://file:4318", serviceName: "from-file", headers: { "x-api-key": "k" }, sampleRatio: 0.5 } });
  assert.deepEqual(load(["--config", file]).config.tracing, {
    endpoint: "http://file:4318",
    serviceName: "from-file",
    headers: { "x-api-key": "k" },
    sampleRatio: 0.5,
  });
  const env = { MODELNODE_CONFIG: file, MODELNODE_OTLP_TRACES_ENDPOINT: "http://env:4318", OTEL_SERVICE_NAME: "from-env" };
  const fromEnv = load([], env).config.tracing;
  assert.equal(fromEnv.endpoint, "http://env:4318");
  assert.equal(fromEnv.serviceName, "from-env");
  assert.deepEqual(fromEnv.headers, { "x-api-key": "k" }, "the file's other tracing settings stay");
  const fromFlags = load(["--otlp-traces-endpoint", "https://flag/v1/traces", "--otlp-service-name", "from-flag"], env).config.tracing;
  assert.equal(fromFlags.endpoint, "https://flag/v1/traces");
  assert.equal(fromFlags.serviceName, "from-flag");
  assert.equal(fromFlags.sampleRatio, 0.5);
});

test("bad tracing settings are config errors naming the field and where it came from", () => {
  assert.equal(
    configError(["--otlp-traces-endpoint", "collector:4318"]),
    "config error: tracing.endpoint: expected an http:// or https:// URL (from --otlp-traces-endpoint)",
  );
  assert.equal(
    configError([], { MODELNODE_OTLP_TRACES_ENDPOINT: "grpc://collector:4317" }),
    "config error: tracing.endpoint: expected an http:// or https:// URL (from MODELNODE_OTLP_TRACES_ENDPOINT)",
  );
  assert.match(configError(["--otlp-service-name", ""]), /^config error: tracing\.serviceName: expected a non-empty string \(from --otlp-service-name\)$/);
  const file = tempFile({ tracing: { endpont: "http://c:4318" } });
  assert.match(configError(["--config", file]), /config error: tracing: unknown key "endpont"/);
  assert.match(configError(["--config", tempFile({ tracing: { sampleRatio: 2 } })]), /config error: tracing\.sampleRatio: .*\(from .*config\.json\)/);
  assert.match(configError(["--config", tempFile({ tracing: { headers: { "x-api-key": 1 } } })]), /config error: tracing\.headers\.x-api-key: expected a string/);
});

/**
 * Runs createModelNode in a child process whose module resolutions are recorded (a module.register
 * hook), and returns whether the node has the tracing plugin (its provider, TRACER_PROVIDER, is
 * bound) and the URLs resolved.
 */
function composeAndRecord(tracing: Record<string, unknown> | undefined): { traced: boolean; resolved: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "model-node-imports-"));
  const log = join(dir, "resolved.txt");
  writeFileSync(log, "");
  writeFileSync(
    join(dir, "hooks.mjs"),
    `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, result.url + "\\n");
  return result;
}
`,
  );
  writeFileSync(join(dir, "register.mjs"), `import { register } from "node:module";\nregister("./hooks.mjs", import.meta.url);\n`);
  const script = `
    const { createModelNode } = await import(${JSON.stringify(new URL("../src/index.js", import.meta.url).href)});
    const node = await createModelNode({ logLevel: "silent", ${tracing ? `tracing: ${JSON.stringify(tracing)}` : ""} });
    const traced = node.container.isRegistered(Symbol.for("modelnode.plugin-tracing.provider"));
    await node.close();
    console.log(JSON.stringify(traced));
  `;
  writeFileSync(join(dir, "main.mjs"), script);
  const run = spawnSync(process.execPath, ["--import", join(dir, "register.mjs"), join(dir, "main.mjs")], { encoding: "utf8", timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  return { traced: JSON.parse(run.stdout.trim().split("\n").pop()!), resolved: readFileSync(log, "utf8").split("\n").filter(Boolean) };
}

test("no endpoint: no tracing plugin, and neither the plugin nor OpenTelemetry is loaded; with one, both are", () => {
  const opentelemetry = (urls: string[]) => urls.filter((u) => u.includes("/@opentelemetry/") || u.includes("/plugin-tracing/dist/src/index.js"));
  const off = composeAndRecord(undefined);
  assert.equal(off.traced, false);
  assert.ok(off.resolved.some((u) => u.includes("/plugin-tracing/dist/src/options.js")), "the config's schema is loaded (the check sees imports)");
  assert.deepEqual(opentelemetry(off.resolved), []);
  const on = composeAndRecord({ endpoint: "http://127.0.0.1:9/" });
  assert.equal(on.traced, true);
  assert.ok(opentelemetry(on.resolved).length > 0, "the plugin and OpenTelemetry are loaded when tracing is on");
});
