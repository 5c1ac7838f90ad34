// The example node's command line: config errors before anything listens (exit 2), a node that
// serves on the port it prints, and SIGTERM/SIGINT closing it gracefully (exit 0).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { TestClient } from "@modelnode/testing";
import { REPO_ROOT } from "./support/paths.js";

const CLI = join(REPO_ROOT, "examples", "model-node", "dist", "src", "cli.js");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, MODELNODE_LOG_LEVEL: "silent", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts the CLI on a free port and resolves once it prints where it listens. */
function startCli(args: string[]) {
  const child = spawn(process.execPath, [CLI, "--port", "0", "--host", "127.0.0.1", ...args], {
    env: { ...process.env, MODELNODE_LOG_LEVEL: "silent" },
  });
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    child.stderr.on("data", (d) => {
      stderr += d;
      const match = /listening on (ws:\/\/\S+)/.exec(stderr);
      if (match) resolve(match[1]);
    });
    exited.then((code) => reject(new Error(`cli exited with ${code}: ${stderr}`)));
  });
  return { child, url, exited, stderr: () => stderr };
}

test("a bad setting is a config error naming the field, printed before anything listens, exit code 2", async () => {
  const bad = await runCli([], { PORT: "not-a-port" });
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, "config error: port: expected integer between 0 and 65535 (from PORT)\n");
  assert.equal(bad.stdout, "");
  const flag = await runCli(["--port", "65536"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /^config error: port: expected integer between 0 and 65535 \(from --port\)/);
  const file = await runCli(["--config", "/nonexistent/model-node.config.json"]);
  assert.equal(file.code, 2);
  assert.match(file.stderr, /^config error: cannot read config file/);
  const unknown = await runCli(["--bogus"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^config error: Unknown option '--bogus'/);
});

test("--help prints the usage and exits 0", async () => {
  const help = await runCli(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--port <n>/);
  assert.match(help.stdout, /MODELNODE_CONFIG/);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`serves the bundled model as tiny-gpt2 and the guide's test_model; ${signal} closes connections (1001) and exits 0`, async () => {
    const cli = startCli([]);
    const url = await cli.url;
    const client = await TestClient.connect(url);
    const ack = await client.call("heartbeat", { worker_id: "cli-test" });
    assert.deepEqual(ack.models, ["tiny-gpt2", "test_model"]);
    // The guide's standard client asks for "test_model": the default start must serve it.
    const guide = await client.call("inference_request", { model_id: "test_model", prompt: "Hello, world!" });
    assert.equal(guide.header.message_type, "inference_response");
    assert.equal(guide.model_id, "test_model");
    const legacy = await client.request({ session_id: "cli", step: 0, input_tensors: { input_ids: "Hello" } });
    assert.equal(typeof legacy.output_tensors.next_token_id, "number");
    cli.child.kill(signal);
    assert.equal((await client.closed).code, 1001);
    assert.equal(await cli.exited, 0, cli.stderr());
  });
}

test("a port in use is reported before any model loads (exit 1, one line, no model loaded)", async () => {
  const { createServer } = await import("node:net");
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve()));
  const port = (blocker.address() as { port: number }).port;
  try {
    const run = await runCli(["--port", String(port), "--host", "127.0.0.1"], { MODELNODE_LOG_LEVEL: "info", MODELNODE_LOG_FORMAT: "json" });
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`startup error: port ${port} \\(on 127\\.0\\.0\\.1\\) is already in use; choose another with --port N`));
    assert.doesNotMatch(run.stdout, /model loaded/, "the models were never loaded for a port that was taken");
    assert.doesNotMatch(run.stderr, /loading models/);
  } finally {
    blocker.close();
  }
});

test("a model that cannot load is one line on stderr naming the file (exit 1), no stack trace in the logs first", async () => {
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "modelnode-broken-model-"));
  writeFileSync(join(dir, "config.json"), "{}");
  const run = await runCli(["--port", "0", "--host", "127.0.0.1", "--model", `broken=${dir}`], { MODELNODE_LOG_LEVEL: "info", MODELNODE_LOG_FORMAT: "json" });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /startup error: model "broken": .*tokenizer\.json: missing/);
  assert.doesNotMatch(run.stdout + run.stderr, /"stack"|at readJson|ModelLoadError:/, "no stack trace before the one-line message");
  assert.doesNotMatch(run.stdout, /"level":50/, "not logged as an error: the operator's mistake is the message");
});
