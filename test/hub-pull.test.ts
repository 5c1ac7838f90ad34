// `model-node pull` end to end: the example node's CLI pulls a model from a Hub-shaped server on
// loopback (@modelnode/hub/testing), and the node started with `--model <pulled dir>` answers
// exactly as it does serving the fixture folder itself.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
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

  // The flag printed, its folder made absolute (it is relative to where pull ran); and the pulled
  // folder alone, which holds one graph, so it loads without naming the dtype.
  const [, id, where] = /serve it: npm start -- --model ([^=\s]+)=(\S+)\n/.exec(pulled.stdout)!;
  assert.equal(id, REPO_ID);
  node = startCli(["--model", `${id}=${join(root, where)}`, "--model", `pulled=${join(root, dir)}`, "--model", `direct=${repo}:q8`]);
  // Three models load (not node.url, whose wait is shorter): a busy machine may take a while.
  await node.waitForStderr(/listening on wss?:\/\/\S+/, 120_000);
  const url = /listening on (wss?:\/\/\S+)/.exec(node.stderr())![1];
  const openai = new OpenAI({ baseURL: `${url.replace(/^ws/, "http")}/v1`, apiKey: "x", maxRetries: 0 });
  const ask = (model: string) => openai.completions.create({ model, prompt: "The pulled model says", max_tokens: 12, temperature: 0 });
  const [printed, fromPull, direct] = await Promise.all([ask(REPO_ID), ask("pulled"), ask("direct")]);
  assert.equal(fromPull.usage?.completion_tokens, 12);
  assert.ok(fromPull.choices[0].text.length > 0);
  assert.equal(fromPull.choices[0].text, direct.choices[0].text);
  assert.equal(printed.choices[0].text, direct.choices[0].text);

  // Offline, the same pull answers from the folder.
  const offline = await pull([`${REPO_ID}:q8`, "--offline", "--models-dir", "models"]);
  assert.equal(offline.code, 0, offline.stderr);
  assert.match(offline.stdout, /^already here: /);
});

test("Ctrl-C during a download: exit 130, the partial file kept; the next pull continues it with a Range request", async () => {
  const path = "onnx/model_quantized.onnx_data";
  hub.stallNextDownload(`${REPO_ID}/${path}`, 1_000_000);
  const child = spawn(process.execPath, [CLI_PATH, "pull", `${REPO_ID}:q8`, "--hub-url", hub.url, "--models-dir", "interrupted"], { cwd: root });
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  await new Promise<void>((resolve) =>
    child.stderr.on("data", (d) => {
      stderr += d;
      if (stderr.includes(`fetching ${path}`)) resolve();
    }),
  );
  // The stalled response has sent its bytes; give the client a moment to write them.
  const part = join(root, "interrupted", ...REPO_ID.split("/"), `${path}.part`);
  for (let i = 0; i < 100 && !(existsSync(part) && statSync(part).size > 0); i++) await new Promise((r) => setTimeout(r, 50));
  child.kill("SIGINT");
  assert.equal(await exited, 130, stderr);
  assert.match(stderr, /pull failed \(aborted\): pull aborted while fetching onnx\/model_quantized\.onnx_data; the partial file is kept/);
  const kept = statSync(part).size;
  assert.ok(kept > 0, "bytes were kept");

  const seen = hub.requests.length;
  const again = await pull([`${REPO_ID}:q8`, "--hub-url", hub.url, "--models-dir", "interrupted"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, new RegExp(`fetching ${path.replace(/\./g, "\\.")} \\(6\\.\\d MB, resuming at `));
  assert.ok(hub.requests.slice(seen).some((r) => r.path.endsWith(path) && r.range === `bytes=${kept}-`));
});
