/** A tiny transformers.js-style repository (fp32, q8 and fp16 graphs, external data) built once per test file. */
import { buildModel, MODEL_PRESETS } from "@modelnode/model-builder";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const REPO_ID = "modelnode-tests/tiny-gpt2-onnx";

export function buildFixtureRepo(): { root: string; repo: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), "modelnode-hub-"));
  const repo = join(root, "repo");
  buildModel({ out: repo, model: { ...MODEL_PRESETS["tiny-gpt2"], dtypes: ["fp32", "q8", "fp16"], externalData: true } });
  return { root, repo, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Every file under `dir`, relative, with "/" separators, sorted. */
export function filesIn(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1).split("\\").join("/"))
    .sort();
}

export const sameBytes = (a: string, b: string) => readFileSync(a).equals(readFileSync(b));

let counter = 0;
export const freshDir = (root: string) => join(root, `models-${++counter}`);
