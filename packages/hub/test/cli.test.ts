// The modelnode-pull CLI (runPullCli): what it prints at a terminal and elsewhere, offline by
// environment, and usage mistakes (exit 2).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { runPullCli } from "@modelnode/hub";
import { startFakeHub, type FakeHub } from "@modelnode/hub/testing";
import { buildFixtureRepo, freshDir, REPO_ID } from "./fixture.js";

let fixture: ReturnType<typeof buildFixtureRepo>;
let hub: FakeHub;

before(async () => {
  fixture = buildFixtureRepo();
  hub = await startFakeHub({ repos: { [REPO_ID]: fixture.repo } });
});
after(async () => {
  await hub?.close();
  fixture?.cleanup();
});

async function cli(argv: string[], { tty = false, env = {} }: { tty?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  let stdout = "";
  let stderr = "";
  const code = await runPullCli(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { isTTY: tty, columns: 100, write: (text: string) => (stderr += text) },
    env,
    cwd: fixture.root,
  });
  return { code, stdout, stderr };
}

test("elsewhere than a terminal: a plain line per file; then where the model is and the --model flag that serves it", async () => {
  const modelsDir = freshDir(fixture.root);
  const run = await cli([`${REPO_ID}:q8`, "--hub-url", hub.url, "--models-dir", modelsDir]);
  assert.equal(run.code, 0, run.stderr);
  assert.doesNotMatch(run.stderr, /\r/);
  assert.match(run.stderr, /^modelnode-tests\/tiny-gpt2-onnx \(q8, revision [0-9a-f]{12}\): 7 files to fetch \(8\.\d MB\)$/m);
  assert.match(run.stderr, /^fetching onnx\/model_quantized\.onnx_data \(6\.\d MB\)$/m);
  assert.match(run.stderr, /^verified onnx\/model_quantized\.onnx_data$/m);
  const dir = relative(fixture.root, join(modelsDir, "modelnode-tests", "tiny-gpt2-onnx"));
  assert.match(run.stdout, new RegExp(`^pulled: ${REPO_ID} \\(q8, revision [0-9a-f]{12}\\) in ${dir} \\(7 files, 8\\.\\d MB downloaded\\)$`, "m"));
  assert.ok(run.stdout.includes(`serve it: npm start -- --model ${REPO_ID}=${dir}:q8\n`), run.stdout);

  const again = await cli([REPO_ID, "--dtype", "q8", "--hub-url", hub.url, "--models-dir", modelsDir]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^already here: /);
});

test("at a terminal: one progress line redrawn in place, ending at 100%", async () => {
  const run = await cli([`${REPO_ID}:q8`, "--hub-url", hub.url, "--models-dir", freshDir(fixture.root)], { tty: true });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /\r\[#+-*\] +\d+% /);
  assert.match(run.stderr, /\r\[#{24}\] 100% 8\.\d MB\/8\.\d MB .*\n$/);
  assert.doesNotMatch(run.stderr, /^fetching /m);
});

test("HF_HUB_OFFLINE=1 (or --offline) with the model not pulled: exit 1 and a clear error; HF_ENDPOINT and MODELNODE_MODELS_DIR are read", async () => {
  const modelsDir = freshDir(fixture.root);
  const offline = await cli([`${REPO_ID}:q8`], { env: { HF_HUB_OFFLINE: "1", MODELNODE_MODELS_DIR: modelsDir } });
  assert.equal(offline.code, 1);
  assert.match(offline.stderr, /^pull failed \(offline-not-cached\): offline \(--offline or HF_HUB_OFFLINE\): modelnode-tests\/tiny-gpt2-onnx:q8 is not in the cache/m);
  const pulled = await cli([`${REPO_ID}:q8`, "--quiet"], { env: { HF_ENDPOINT: hub.url, MODELNODE_MODELS_DIR: modelsDir } });
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.equal(pulled.stderr, "");
  const cached = await cli([`${REPO_ID}:q8`, "--offline", "--models-dir", modelsDir]);
  assert.equal(cached.code, 0, cached.stderr);
  assert.match(cached.stdout, /^already here: /);
});

test("usage mistakes exit 2 naming what is wrong", async () => {
  for (const [argv, message] of [
    [[], /name a model: org\/name\[:dtype\]/],
    [["a/b", "c/d"], /one model at a time/],
    [["a/b:q3"], /dtype "q3": expected one of fp32/],
    [["a/b:q8", "--dtype", "fp16"], /a\/b:q8 and --dtype fp16 disagree/],
    [["a/b", "--hub-url", "ftp://x"], /--hub-url: expected an http\(s\) URL/],
    [["bad id!"], /model id "bad id!"/],
    [["a/b", "--nope"], /Unknown option '--nope'.*see --help/],
    [["a/b", "--retries", "-1"], /--retries/],
    [["a/b", "--retries", "101"], /--retries: expected a whole number from 0 to 100, got "101"/],
    [["a/b", "--stall-timeout", "0"], /--stall-timeout: expected a whole number from 1 to 3600/],
  ] as const) {
    const run = await cli([...argv]);
    assert.equal(run.code, 2, `${argv.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, message);
  }
});
