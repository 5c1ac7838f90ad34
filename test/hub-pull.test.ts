// `model-node pull` end to end: the example node's CLI pulls a model from a Hub-shaped server on
// loopback (@modelnode/hub/testing), and the node started with `--model <pulled dir>` answers
// exactly as it does serving the fixture folder itself.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { buildModel, MODEL_PRESETS } from "@modelnode/model-builder";
import { startFakeHub, type FakeHub } from "@modelnode/hub/testing";
import { startCli, type CliRun } from "./support/cli.js";
import { CLI_PATH } from "./support/paths.js";

const REPO_ID = "modelnode-tests/tiny-gpt2-onnx";
let root: string;
let repo: string;
let hub: FakeHub;
let node: CliRun | undefined;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "modelnode-hub-e2e-"));
  repo = join(root, "repo");
  buildModel({ out: repo, model: { ...MODEL_PRESETS["tiny-gpt2"], dtypes: ["fp32", "q8"], externalData: true } });
  hub = await startFakeHub({ repos: { [REPO_ID]: repo } });
});
after(async () => {
  node?.child.kill("SIGTERM");
  await node?.exited;
  await hub?.close();
  rmSync(root, { recursive: true, force: true });
});

function pull(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_PATH, "pull", ...args], { cwd: root, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

test("model-node pull fetches the q8 files; the node serves the pulled folder with the same greedy text as the fixture", async () => {
  const pulled = await pull([`${REPO_ID}:q8`, "--hub-url", hub.url, "--models-dir", "models"]);
  assert.equal(pulled.code, 0, pulled.stderr);
  const dir = join("models", "modelnode-tests", "tiny-gpt2-onnx");
  assert.ok(pulled.stdout.includes(`serve it: npm start -- --model ${REPO_ID}=${dir}:q8`), pulled.stdout);
  assert.match(pulled.stderr, /^verified onnx\/model_quantized\.onnx_data$/m);

  // The pulled folder holds one graph, so it loads without naming the dtype.
  node = startCli(["--model", `pulled=${join(root, dir)}`, "--model", `direct=${repo}:q8`]);
  // Two models load (not node.url, whose wait is shorter): a busy machine may take a while.
  await node.waitForStderr(/listening on wss?:\/\/\S+/, 120_000);
  const url = /listening on (wss?:\/\/\S+)/.exec(node.stderr())![1];
  const openai = new OpenAI({ baseURL: `${url.replace(/^ws/, "http")}/v1`, apiKey: "x", maxRetries: 0 });
  const ask = (model: string) => openai.completions.create({ model, prompt: "The pulled model says", max_tokens: 12, temperature: 0 });
  const [fromPull, direct] = await Promise.all([ask("pulled"), ask("direct")]);
  assert.equal(fromPull.usage?.completion_tokens, 12);
  assert.ok(fromPull.choices[0].text.length > 0);
  assert.equal(fromPull.choices[0].text, direct.choices[0].text);

  // Offline, the same pull answers from the folder.
  const offline = await pull([`${REPO_ID}:q8`, "--offline", "--models-dir", "models"]);
  assert.equal(offline.code, 0, offline.stderr);
  assert.match(offline.stdout, /^already here: /);
});
