/**
 * pullModel: one dtype of a Hub model into `<modelsDir>/<org>/<name>/`, in the layout the node
 * serves with `--model <dir>`. Uses @huggingface/hub for the Hub's API (the revision, the file
 * list with sizes and hashes, each file's download URL) and its own ranged GETs for the bytes, so
 * that downloads resume and are checked (download.ts).
 */
import { fileDownloadInfo, listFiles, modelInfo } from "@huggingface/hub";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { downloadFile } from "./download.js";
import { selectDtypeFiles, type DtypeSelection, type PullDtype } from "./dtype-files.js";
import { HubPullError } from "./errors.js";
import { hubError, type HubWhere } from "./hub-errors.js";
import { lockModelDir } from "./lock.js";
import { cachedDtype, isFileCurrent, readManifest, writeManifest, type PullManifest } from "./manifest.js";
import { checkDtype, checkRepoId, checkRepoPath } from "./model-ref.js";
import { etagContradicts, expectedOf, type Expected } from "./verify.js";

export const DEFAULT_HUB_URL = "https://huggingface.co";

export interface PullModelOptions {
  /** The Hub repository, `org/name`. */
  id: string;
  /** Which weights (transformers.js's names); default fp32, or the repository's only graph. */
  dtype?: PullDtype;
  /** A branch, tag or commit; default "main". */
  revision?: string;
  /** The model lands in `<modelsDir>/<org>/<name>/`. */
  modelsDir: string;
  /** Default: HF_ENDPOINT, else https://huggingface.co. */
  hubUrl?: string;
  /** Default: HF_TOKEN. Sent as `Authorization: Bearer …` to the Hub. */
  token?: string;
  /** Never contact the Hub: answer from the folder, or fail (`offline-not-cached`). Default: HF_HUB_OFFLINE is set. */
  offline?: boolean;
  signal?: AbortSignal;
  onProgress?: (event: PullProgress) => void;
  /** Further attempts for a download that breaks off, each resuming where it stopped (default 2). */
  retries?: number;
  /** A download that receives nothing for this long counts as broken off (default 60 000 ms). */
  stallTimeoutMs?: number;
  /** The fetch to use (default the global one). */
  fetch?: typeof fetch;
}

export type PullProgress =
  | { type: "plan"; id: string; dtype: PullDtype; revision: string; files: { path: string; size: number; cached: boolean }[]; bytesToFetch: number }
  | { type: "file-start"; path: string; size: number; resumedFrom: number }
  | { type: "bytes"; path: string; bytes: number }
  /** The download broke off at byte `at` and continues from there. */
  | { type: "retry"; path: string; at: number; reason: string }
  | { type: "file-done"; path: string };

export interface PullResult {
  id: string;
  dtype: PullDtype;
  /** The commit the files come from. */
  revision: string;
  /** The model's folder (absolute): what `--model` takes. */
  dir: string;
  /** The graph file, relative to `dir`. */
  graph: string;
  files: { path: string; size: number; fetched: boolean }[];
  /** Bytes that came over the network (less than the files' sizes when a download resumed). */
  receivedBytes: number;
  /** Nothing needed fetching (every file was already there, or offline). */
  fromCache: boolean;
}

/** `<modelsDir>/<org>/<name>`, absolute. */
export function pulledModelDir(modelsDir: string, id: string): string {
  return resolve(modelsDir, ...id.split("/"));
}

export function isOfflineEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return ["1", "true", "yes", "on"].includes((env.HF_HUB_OFFLINE ?? "").trim().toLowerCase());
}

export async function pullModel(options: PullModelOptions): Promise<PullResult> {
  checkRepoId(options.id);
  if (options.dtype !== undefined) checkDtype(options.dtype);
  checkInteger("retries", options.retries, 0, 100);
  checkInteger("stallTimeoutMs", options.stallTimeoutMs, 1, 3_600_000);
  const dir = pulledModelDir(options.modelsDir, options.id);
  const hubUrl = (options.hubUrl ?? process.env.HF_ENDPOINT ?? DEFAULT_HUB_URL).replace(/\/+$/, "");
  if (options.offline ?? isOfflineEnv()) return fromCacheOnly(options, dir);
  if (options.signal?.aborted) throw new HubPullError("aborted", `pull of ${options.id} aborted before it started`);

  const token = options.token ?? process.env.HF_TOKEN ?? undefined;
  const baseFetch = options.fetch ?? fetch;
  // The token goes on every request here (not through the library's accessToken, which insists on
  // an "hf_" prefix that a mirror's tokens need not have), with the caller's signal.
  const hubFetch: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    if (token) headers.set("Authorization", `Bearer ${token}`);
    return baseFetch(input, { ...init, headers, signal: init?.signal ?? options.signal });
  };
  const where = { id: options.id, hubUrl, revision: options.revision ?? "main", tokenGiven: Boolean(token), signal: options.signal };

  let revision: string;
  const listed: { path: string; size: number; oid?: string; lfs?: { oid: string; size: number } }[] = [];
  try {
    const info = await modelInfo({ name: options.id, revision: where.revision, hubUrl, fetch: hubFetch, additionalFields: ["sha"] });
    revision = (info as { sha?: string }).sha ?? where.revision;
    for await (const entry of listFiles({ repo: { type: "model", name: options.id }, revision, recursive: true, hubUrl, fetch: hubFetch })) {
      if (entry.type === "file") listed.push(entry);
    }
  } catch (error) {
    throw hubError(error, where);
  }
  const chosen = selectDtypeFiles(listed.map((file) => file.path), options.dtype);
  if (!chosen.ok) {
    const has = chosen.available.length > 0 ? `it has ${chosen.available.join(", ")}` : "it holds no ONNX graph (onnx/model*.onnx)";
    throw new HubPullError(
      "dtype-not-found",
      options.dtype
        ? `${options.id}: no ${options.dtype} graph in the repository (${has})`
        : `${options.id}: choose a dtype (${has}), e.g. ${options.id}:${chosen.available[0] ?? "q8"}`,
    );
  }
  const { selection } = chosen;
  const byPath = new Map(listed.map((file) => [file.path, file]));
  const plan = selection.paths.map((path) => {
    checkRepoPath(path);
    return { path, expected: expectedOf(byPath.get(path)!) };
  });

  mkdirSync(dir, { recursive: true });
  const unlock = lockModelDir(dir, options.id);
  try {
    return await fetchSelection(options, { ...where, revision }, hubFetch, dir, selection, plan);
  } finally {
    unlock();
  }
}

async function fetchSelection(
  options: PullModelOptions,
  where: HubWhere,
  hubFetch: typeof fetch,
  dir: string,
  selection: DtypeSelection,
  plan: { path: string; expected: Expected }[],
): Promise<PullResult> {
  const { revision, hubUrl } = where;
  const previous = readManifest(dir);
  const manifest: PullManifest = {
    id: options.id,
    hubUrl,
    revision,
    files: previous?.files ?? {},
    dtypes: previous?.revision === revision ? previous.dtypes : {},
    partial: previous?.partial ?? {},
  };
  const cached = new Set(plan.filter(({ path, expected }) => isFileCurrent(dir, previous, path, expected)).map(({ path }) => path));
  const emit = options.onProgress ?? (() => {});
  emit({
    type: "plan",
    id: options.id,
    dtype: selection.dtype,
    revision,
    files: plan.map(({ path, expected }) => ({ path, size: expected.size, cached: cached.has(path) })),
    bytesToFetch: plan.filter(({ path }) => !cached.has(path)).reduce((sum, { expected }) => sum + expected.size, 0),
  });

  let receivedBytes = 0;
  for (const { path, expected } of plan) {
    if (cached.has(path)) continue;
    receivedBytes += await fetchOne(where, hubFetch, options, dir, manifest, path, expected, emit);
  }
  manifest.dtypes[selection.dtype] = { graph: selection.graph, paths: selection.paths };
  writeManifest(dir, manifest);
  return {
    id: options.id,
    dtype: selection.dtype,
    revision,
    dir,
    graph: selection.graph,
    files: plan.map(({ path, expected }) => ({ path, size: expected.size, fetched: !cached.has(path) })),
    receivedBytes,
    fromCache: cached.size === plan.length,
  };
}

async function fetchOne(
  where: HubWhere,
  hubFetch: typeof fetch,
  options: PullModelOptions,
  dir: string,
  manifest: PullManifest,
  path: string,
  expected: Expected,
  emit: (event: PullProgress) => void,
): Promise<number> {
  let info;
  try {
    info = await fileDownloadInfo({ repo: { type: "model", name: where.id }, path, revision: where.revision, hubUrl: where.hubUrl, fetch: hubFetch });
  } catch (error) {
    throw hubError(error, where, path);
  }
  if (!info) throw new HubPullError("not-found", `${where.id}: ${path} is listed but the Hub has no such file at ${where.revision}`);
  if (info.size !== expected.size) {
    throw new HubPullError("bad-response", `${where.id}: ${path}: the Hub's file list says ${expected.size} bytes, its download ${info.size}`);
  }
  if (etagContradicts(info.etag, expected)) {
    throw new HubPullError("integrity", `${where.id}: ${path}: the Hub's ETag ${info.etag} is not the file's listed hash ${expected.hash}`);
  }
  const dest = join(dir, path);
  mkdirSync(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const resumePart = manifest.partial[path] === (expected.hash ?? `size:${expected.size}`);
  manifest.partial[path] = expected.hash ?? `size:${expected.size}`;
  delete manifest.files[path]; // not current until it is verified again
  writeManifest(dir, manifest);
  emit({ type: "file-start", path, size: expected.size, resumedFrom: resumePart && existsSync(part) ? Math.min(statSync(part).size, expected.size) : 0 });
  const outcome = await downloadFile({
    path,
    url: info.url,
    dest,
    expected,
    fetch: hubFetch,
    signal: options.signal,
    resumePart,
    retries: options.retries ?? 2,
    stallTimeoutMs: options.stallTimeoutMs ?? 60_000,
    onBytes: (bytes) => emit({ type: "bytes", path, bytes }),
    onRetry: (at, reason) => emit({ type: "retry", path, at, reason }),
  });
  delete manifest.partial[path];
  manifest.files[path] = expected;
  writeManifest(dir, manifest);
  emit({ type: "file-done", path });
  return outcome.received;
}

function fromCacheOnly(options: PullModelOptions, dir: string): PullResult {
  const manifest = readManifest(dir);
  const dtype = manifest && cachedDtype(manifest, options.dtype);
  const entry = dtype && manifest.dtypes[dtype];
  const missing = entry ? entry.paths.filter((path) => !isFileCurrent(dir, manifest, path, manifest.files[path])) : [];
  if (!manifest || !dtype || !entry || missing.length > 0) {
    const what = `${options.id}${options.dtype ? `:${options.dtype}` : ""}`;
    const why = !manifest
      ? `nothing was pulled into ${dir}`
      : !entry
        ? `${dir} holds ${Object.keys(manifest.dtypes).join(", ") || "no complete dtype"}`
        : `${dir} lacks ${missing.join(", ")}`;
    throw new HubPullError("offline-not-cached", `offline (--offline or HF_HUB_OFFLINE): ${what} is not in the cache (${why}); pull it once with the Hub reachable`);
  }
  return {
    id: options.id,
    dtype,
    revision: manifest.revision,
    dir,
    graph: entry.graph,
    files: entry.paths.map((path) => ({ path, size: manifest.files[path].size, fetched: false })),
    receivedBytes: 0,
    fromCache: true,
  };
}

function checkInteger(name: string, value: number | undefined, min: number, max: number): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max)) {
    throw new HubPullError("invalid-argument", `${name}: expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
}
