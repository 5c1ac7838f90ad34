/** Where things are, from test/dist/support/ (compiled) or test/support/ (source). */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const TINY_MODEL_DIR = join(REPO_ROOT, "models", "tiny-gpt2");
/** The copy-friendly tiny model (preset copy-tiny-gpt2; speculative decoding's tests): built by the tests that use it. */
export const COPY_MODEL_DIR = join(REPO_ROOT, "models", "copy-tiny-gpt2");
export const CLI_PATH = join(REPO_ROOT, "examples", "model-node", "dist", "src", "cli.js");
