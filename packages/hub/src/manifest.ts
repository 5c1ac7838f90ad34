/**
 * `.modelnode-pull.json` in a pulled model's folder: which revision it holds, each file's size and
 * hash as the Hub reported them, and which dtypes are complete. A later pull skips files whose
 * record matches the Hub's, resumes a `.part` only when it belongs to the same hash, and offline
 * mode answers from it alone.
 */
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PullDtype } from "./dtype-files.js";
import type { Expected } from "./verify.js";

export const MANIFEST_FILE = ".modelnode-pull.json";

export interface PullManifest {
  id: string;
  hubUrl: string;
  /** The commit the files come from. */
  revision: string;
  files: Record<string, Expected>;
  /** Dtypes pulled completely from `revision`: the graph and every file each needs. */
  dtypes: Partial<Record<PullDtype, { graph: string; paths: string[] }>>;
  /** Files being fetched: the hash their `.part` belongs to. */
  partial: Record<string, string>;
}

export function readManifest(dir: string): PullManifest | undefined {
  try {
    const value = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), "utf8")) as PullManifest;
    return typeof value === "object" && value && typeof value.files === "object" && typeof value.dtypes === "object" ? { ...value, partial: value.partial ?? {} } : undefined;
  } catch {
    return undefined;
  }
}

/** Written beside and renamed, so a reader never sees half a manifest. */
export function writeManifest(dir: string, manifest: PullManifest): void {
  const file = join(dir, MANIFEST_FILE);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** Whether `path` is on disk as `expected` says, according to the manifest's record of it. */
export function isFileCurrent(dir: string, manifest: PullManifest | undefined, path: string, expected: Expected): boolean {
  const record = manifest?.files[path];
  if (!record || record.size !== expected.size || record.hash !== expected.hash) return false;
  const file = join(dir, path);
  return existsSync(file) && statSync(file).size === expected.size;
}

/** The dtype entry a cached folder answers for `dtype` (without one: fp32, else its only dtype). */
export function cachedDtype(manifest: PullManifest, dtype: PullDtype | undefined): PullDtype | undefined {
  const pulled = Object.keys(manifest.dtypes) as PullDtype[];
  if (dtype) return pulled.includes(dtype) ? dtype : undefined;
  return pulled.includes("fp32") ? "fp32" : pulled.length === 1 ? pulled[0] : undefined;
}
