/** Shared test setup: the repository's bundled model (built if missing). */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildTinyModel } from "../src/index.js";

/** <repo>/models (this file runs from packages/model-builder/dist/test). */
export const MODELS_DIR = fileURLToPath(new URL("../../../../models", import.meta.url));
export const TINY_MODEL_DIR = join(MODELS_DIR, "tiny-gpt2");

export function ensureTinyModel(): string {
  buildTinyModel({ out: TINY_MODEL_DIR, ifMissing: true });
  return TINY_MODEL_DIR;
}
