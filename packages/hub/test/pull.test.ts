// pullModel against a Hub-shaped server on loopback (startFakeHub) serving a fixture repository
// with three dtypes: what is fetched, resuming, refusing corrupted bytes, offline mode, tokens.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { HubPullError, MANIFEST_FILE, pullModel, type PullProgress } from "@modelnode/hub";
import { startFakeHub, type FakeHub } from "@modelnode/hub/testing";
import { buildFixtureRepo, filesIn, freshDir, REPO_ID, sameBytes } from "./fixture.js";

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

const Q8_FILES = [
  "config.json",
  "generation_config.json",
  "onnx/model_quantized.onnx",
  "onnx/model_quantized.onnx_data",
  "special_tokens_map.json",
  "tokenizer.json",
  "tokenizer_config.json",
];

async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<HubPullError> {
  const error = await promise.then(
    () => assert.fail("expected the pull to fail"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof HubPullError, String(error));
  assert.equal(error.code, code, error.message);
  assert.match(error.message, message);
  return error;
}

test("pulls one dtype: its graph and external data with the config and tokenizer files, nothing of the other dtypes", async () => {
  const modelsDir = freshDir(fixture.root);
  const seen = hub.requests.length;
  const events: PullProgress[] = [];
  const result = await pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: hub.url, onProgress: (e) => events.push(e) });
  assert.equal(result.dir, join(modelsDir, "modelnode-tests", "tiny-gpt2-onnx"));
  assert.equal(result.graph, "onnx/model_quantized.onnx");
  assert.deepEqual(filesIn(result.dir), [MANIFEST_FILE, ...Q8_FILES].sort());
  for (const path of Q8_FILES) assert.ok(sameBytes(join(result.dir, path), join(fixture.repo, path)), path);
  const downloads = hub.requests.slice(seen).filter((r) => r.path.includes("/resolve/"));
  assert.ok(!downloads.some((r) => /model\.onnx|model_fp16/.test(r.path)), "no other dtype's graph was requested");
  // The file list came in several pages (the fake Hub pages by 3), all followed.
  assert.ok(hub.requests.slice(seen).filter((r) => r.path.includes("/tree/")).length > 3);
  const total = Q8_FILES.reduce((sum, path) => sum + statSync(join(fixture.repo, path)).size, 0);
  assert.equal(result.receivedBytes, total);
  assert.equal(events.filter((e) => e.type === "bytes").reduce((sum, e) => sum + (e as { bytes: number }).bytes, 0), total);
  assert.equal(result.fromCache, false);

  // Again: everything is current, nothing is downloaded.
  const before = hub.requests.length;
  const again = await pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: hub.url });
  assert.equal(again.fromCache, true);
  assert.equal(again.receivedBytes, 0);
  assert.equal(hub.requests.slice(before).filter((r) => r.path.includes("/resolve/")).length, 0);
});

test("without a dtype the fp32 graph is pulled; a dtype the repository lacks is refused, naming those it has", async () => {
  const modelsDir = freshDir(fixture.root);
  const result = await pullModel({ id: REPO_ID, modelsDir, hubUrl: hub.url });
  assert.equal(result.dtype, "fp32");
  assert.ok(filesIn(result.dir).includes("onnx/model.onnx_data"));
  assert.ok(!filesIn(result.dir).some((f) => f.includes("quantized") || f.includes("fp16")));
  await rejectsWith(pullModel({ id: REPO_ID, dtype: "q4", modelsDir, hubUrl: hub.url }), "dtype-not-found", /no q4 graph.*fp32, fp16, q8/);
});

test("a download cut mid-file keeps the .part; the next pull asks for the rest with a Range request and finishes", async () => {
  const modelsDir = freshDir(fixture.root);
  const path = "onnx/model_quantized.onnx_data";
  const key = `${REPO_ID}/${path}`;
  const size = statSync(join(fixture.repo, path)).size;
  const cutAt = 1_000_000;
  hub.cutNextDownload(key, cutAt);
  const failed = await rejectsWith(
    pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: hub.url, retries: 0 }),
    "network",
    /onnx\/model_quantized\.onnx_data: the download broke off at \d+ of \d+ bytes.*partial file is kept/,
  );
  const dir = join(modelsDir, ...REPO_ID.split("/"));
  // Up to the cut: the client may drop what it had buffered but not read when the stream broke.
  const kept = statSync(join(dir, `${path}.part`)).size;
  assert.ok(kept > 0 && kept <= cutAt, `${kept} bytes kept; ${failed.message}`);
  assert.ok(failed.message.includes(`broke off at ${kept} of ${size} bytes`), failed.message);
  assert.ok(!existsSync(join(dir, path)));

  const sentBefore = hub.bytesSent.get(key)!;
  const seen = hub.requests.length;
  const result = await pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: hub.url, retries: 0 });
  const ranged = hub.requests.slice(seen).filter((r) => r.path.endsWith(path) && r.range !== "bytes=0-0");
  assert.deepEqual(
    ranged.map((r) => r.range),
    [`bytes=${kept}-`],
  );
  assert.equal(hub.bytesSent.get(key)! - sentBefore, size - kept, "only the missing bytes were sent");
  assert.equal(result.receivedBytes, result.files.filter((f) => f.fetched).reduce((sum, f) => sum + f.size, 0) - kept);
  assert.ok(sameBytes(join(dir, path), join(fixture.repo, path)));
  assert.ok(!existsSync(join(dir, `${path}.part`)));
  // Files finished before the cut were not fetched again.
  assert.deepEqual(
    result.files.filter((f) => f.fetched).map((f) => f.path),
    ["onnx/model_quantized.onnx_data", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"],
  );
});

test("within one pull, a broken download is retried from where it stopped", async () => {
  const modelsDir = freshDir(fixture.root);
  const path = "tokenizer.json";
  hub.cutNextDownload(`${REPO_ID}/${path}`, 1_000_000);
  const seen = hub.requests.length;
  const events: PullProgress[] = [];
  const result = await pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: hub.url, onProgress: (e) => events.push(e) });
  const retries = events.filter((e) => e.type === "retry") as { path: string; at: number }[];
  assert.equal(retries.length, 1);
  assert.equal(retries[0].path, path);
  assert.ok(retries[0].at > 0 && retries[0].at <= 1_000_000, String(retries[0].at));
  assert.ok(hub.requests.slice(seen).some((r) => r.path.endsWith(path) && r.range === `bytes=${retries[0].at}-`));
  assert.ok(sameBytes(join(result.dir, path), join(fixture.repo, path)));
});

test("a file whose bytes do not match the Hub's hash is refused and deleted, for LFS (sha256) and git (blob id) files", async () => {
  for (const path of ["onnx/model_quantized.onnx", "config.json"]) {
    const modelsDir = freshDir(fixture.root);
    const dir = join(modelsDir, ...REPO_ID.split("/"));
    hub.corrupt(`${REPO_ID}/${path}`);
    try {
      const hashName = path.endsWith(".onnx") ? "sha256" : "git blob id";
      await rejectsWith(
        pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: hub.url }),
        "integrity",
        new RegExp(`${path.replace(/\./g, "\\.")}: corrupted: its ${hashName} is [0-9a-f]+, the Hub reports [0-9a-f]+; the file was deleted`),
      );
      assert.ok(!existsSync(join(dir, path)), "no corrupted file left");
      assert.ok(!existsSync(join(dir, `${path}.part`)), "no partial file left");
      await rejectsWith(pullModel({ id: REPO_ID, dtype: "q8", modelsDir, offline: true }), "offline-not-cached", /not in the cache/);
    } finally {
      hub.repair(`${REPO_ID}/${path}`);
    }
    const result = await pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: hub.url });
    assert.ok(sameBytes(join(result.dir, path), join(fixture.repo, path)));
  }
});

test("offline mode answers from the folder without a request, and refuses a model (or dtype) not pulled", async () => {
  const modelsDir = freshDir(fixture.root);
  const seen = hub.requests.length;
  await rejectsWith(pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: hub.url, offline: true }), "offline-not-cached", /q8 is not in the cache \(nothing was pulled/);
  await pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: hub.url });
  const afterPull = hub.requests.length;
  const cached = await pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: hub.url, offline: true });
  assert.equal(cached.fromCache, true);
  assert.equal(cached.graph, "onnx/model_quantized.onnx");
  // Without a dtype, the folder's only one answers.
  assert.equal((await pullModel({ id: REPO_ID, modelsDir, offline: true })).dtype, "q8");
  await rejectsWith(pullModel({ id: REPO_ID, dtype: "fp16", modelsDir, offline: true }), "offline-not-cached", /fp16 is not in the cache \(.* holds q8\)/);
  assert.equal(hub.requests.length, afterPull, "offline pulls made no request");
  assert.ok(afterPull > seen);
});

test("a private model needs the token; a wrong or missing one is refused with a clear error", async () => {
  const privateHub = await startFakeHub({ repos: { [REPO_ID]: fixture.repo }, token: "hf_secret" });
  try {
    const modelsDir = freshDir(fixture.root);
    await rejectsWith(pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: privateHub.url, token: "" }), "unauthorized", /asks for a token.*HF_TOKEN or --token/);
    await rejectsWith(pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: privateHub.url, token: "hf_wrong" }), "unauthorized", /refused the token/);
    const result = await pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: privateHub.url, token: "hf_secret" });
    assert.ok(sameBytes(join(result.dir, "onnx/model_quantized.onnx_data"), join(fixture.repo, "onnx/model_quantized.onnx_data")));
  } finally {
    await privateHub.close();
  }
});

test("an unknown model, a bad id or dtype, and an unreachable Hub are errors that say so", async () => {
  const modelsDir = freshDir(fixture.root);
  await rejectsWith(pullModel({ id: "nobody/nothing", modelsDir, hubUrl: hub.url }), "not-found", /nobody\/nothing.*not found/);
  await rejectsWith(pullModel({ id: "../etc", modelsDir, hubUrl: hub.url }), "invalid-argument", /model id "\.\.\/etc"/);
  await rejectsWith(pullModel({ id: REPO_ID, dtype: "q3" as never, modelsDir, hubUrl: hub.url }), "invalid-argument", /dtype "q3": expected one of fp32/);
  const closed = await startFakeHub({ repos: {} });
  await closed.close();
  await rejectsWith(pullModel({ id: REPO_ID, modelsDir, hubUrl: closed.url }), "network", /cannot reach the Hub at http:\/\/127\.0\.0\.1/);
});

test("an aborted pull stops with code aborted", async () => {
  const controller = new AbortController();
  controller.abort();
  await rejectsWith(pullModel({ id: REPO_ID, modelsDir: freshDir(fixture.root), hubUrl: hub.url, signal: controller.signal }), "aborted", /aborted/);
});

test("a download that stops sending without closing is broken off after stallTimeoutMs and resumed", async () => {
  const modelsDir = freshDir(fixture.root);
  const path = "onnx/model_quantized.onnx_data";
  hub.stallNextDownload(`${REPO_ID}/${path}`, 1_000_000);
  const events: PullProgress[] = [];
  const result = await pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: hub.url, stallTimeoutMs: 300, onProgress: (e) => events.push(e) });
  const retries = events.filter((e) => e.type === "retry") as { path: string; at: number; reason: string }[];
  assert.equal(retries.length, 1);
  assert.equal(retries[0].path, path);
  assert.equal(retries[0].reason, "no data for 0.3 s");
  assert.ok(retries[0].at > 0 && retries[0].at <= 1_000_000, String(retries[0].at));
  assert.ok(sameBytes(join(result.dir, path), join(fixture.repo, path)));
});

test("one pull per folder: a second pull while one runs is refused (code locked); the folder is free again after", async () => {
  const modelsDir = freshDir(fixture.root);
  const path = "onnx/model_quantized.onnx_data";
  hub.stallNextDownload(`${REPO_ID}/${path}`, 1000);
  const controller = new AbortController();
  let downloading!: () => void;
  const started = new Promise<void>((resolve) => (downloading = resolve));
  const onProgress = (e: PullProgress) => e.type === "bytes" && e.path === path && downloading();
  const first = pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: hub.url, signal: controller.signal, onProgress });
  first.catch(() => {});
  await started;
  await rejectsWith(pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: hub.url }), "locked", /another pull|already pulling/);
  controller.abort();
  await rejectsWith(first, "aborted", /aborted while fetching onnx\/model_quantized\.onnx_data; the partial file is kept/);
  const result = await pullModel({ id: REPO_ID, dtype: "q8", modelsDir, hubUrl: hub.url });
  assert.ok(sameBytes(join(result.dir, path), join(fixture.repo, path)));
});

test("options out of range are refused by name", async () => {
  const modelsDir = freshDir(fixture.root);
  await rejectsWith(pullModel({ id: REPO_ID, modelsDir, hubUrl: hub.url, retries: -1 }), "invalid-argument", /retries: expected an integer from 0 to 100, got -1/);
  await rejectsWith(pullModel({ id: REPO_ID, modelsDir, hubUrl: hub.url, stallTimeoutMs: 0 }), "invalid-argument", /stallTimeoutMs: expected an integer/);
});
