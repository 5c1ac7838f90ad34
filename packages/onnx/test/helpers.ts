/** Shared test setup: the bundled tiny model (built if missing) and pipelines over it. */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PipelineError } from "@modelnode/core";
import { buildTinyModel } from "../scripts/build-tiny-model.js";
import { createOnnxPipeline, type OnnxPipeline, type OnnxPipelineOptions } from "../src/index.js";

/** <repo>/models/tiny-gpt2 (this file runs from packages/onnx/dist/test). */
export const TINY_MODEL_DIR = fileURLToPath(new URL("../../../../models/tiny-gpt2", import.meta.url));

export function ensureTinyModel(): string {
  buildTinyModel({ out: TINY_MODEL_DIR, ifMissing: true });
  return TINY_MODEL_DIR;
}

export async function tinyPipeline(options: Partial<OnnxPipelineOptions> = {}): Promise<OnnxPipeline> {
  ensureTinyModel();
  return createOnnxPipeline({ models: { tiny: TINY_MODEL_DIR }, ...options });
}

/** A temp copy of the tiny model to break; removed by the returned cleanup. */
export function copyTinyModel(): { dir: string; cleanup: () => void } {
  ensureTinyModel();
  const parent = mkdtempSync(join(tmpdir(), "modelnode-onnx-test-"));
  const dir = join(parent, "tiny-gpt2");
  cpSync(TINY_MODEL_DIR, dir, { recursive: true });
  return { dir, cleanup: () => rmSync(parent, { recursive: true, force: true }) };
}

/** For assert.rejects: matches a PipelineError with this code. */
export function pipelineError(code: string) {
  return (error: unknown) => {
    if (!(error instanceof PipelineError)) throw new Error(`expected PipelineError ${code}, got ${String(error)}`);
    if (error.code !== code) throw new Error(`expected code ${code}, got ${error.code}: ${error.message}`);
    return true;
  };
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}
