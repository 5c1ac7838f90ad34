/**
 * Reads a model directory in the Hugging Face ONNX layout. Anything missing or unreadable is
 * reported as a `ModelLoadError` naming the exact file, because a node that starts with a
 * broken model should say which file to fix.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** Where the ONNX graph may live, in order of preference (optimum and transformers.js layouts). */
export const ONNX_FILE_CANDIDATES = [
  join("onnx", "model.onnx"),
  "model.onnx",
  join("onnx", "decoder_model_merged.onnx"),
  "decoder_model_merged.onnx",
  join("onnx", "decoder_with_past_model.onnx"),
];

export class ModelLoadError extends Error {
  constructor(
    readonly modelId: string,
    /** The file at fault (absolute path), or the directory when it is the directory itself. */
    readonly file: string,
    reason: string,
  ) {
    super(`model "${modelId}": ${file}: ${reason}`);
    this.name = "ModelLoadError";
  }
}

export interface ModelFiles {
  dir: string;
  config: Record<string, any>;
  generationConfig: Record<string, any>;
  tokenizerJson: Record<string, any>;
  tokenizerConfig: Record<string, any>;
  /** Loaded by path (not bytes) so that models with external weight files (model.onnx_data) work. */
  onnxPath: string;
}

export function readModelFiles(modelId: string, dir: string): ModelFiles {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ModelLoadError(modelId, dir, "model directory does not exist");
  }
  const config = readJson(modelId, join(dir, "config.json"), true)!;
  const { tokenizerJson, tokenizerConfig } = readTokenizerFiles(modelId, dir);
  const onnxRelative = ONNX_FILE_CANDIDATES.find((file) => existsSync(join(dir, file)));
  if (!onnxRelative) {
    throw new ModelLoadError(modelId, join(dir, ONNX_FILE_CANDIDATES[0]), "missing (no ONNX model file found in the directory)");
  }
  const onnxPath = join(dir, onnxRelative);
  return {
    dir,
    config,
    generationConfig: readJson(modelId, join(dir, "generation_config.json"), false) ?? {},
    tokenizerJson,
    tokenizerConfig,
    onnxPath: checkNonEmpty(modelId, onnxPath),
  };
}

/** tokenizer.json (required) and tokenizer_config.json (optional) alone. */
export function readTokenizerFiles(modelId: string, dir: string): Pick<ModelFiles, "tokenizerJson" | "tokenizerConfig"> {
  const tokenizerJson = readJson(modelId, join(dir, "tokenizer.json"), true)!;
  if (typeof tokenizerJson.model !== "object" || tokenizerJson.model === null) {
    throw new ModelLoadError(modelId, join(dir, "tokenizer.json"), 'not a tokenizers file (no "model" section)');
  }
  return { tokenizerJson, tokenizerConfig: readJson(modelId, join(dir, "tokenizer_config.json"), false) ?? {} };
}

function readJson(modelId: string, file: string, required: boolean): Record<string, any> | undefined {
  if (!existsSync(file)) {
    if (!required) return undefined;
    throw new ModelLoadError(modelId, file, "missing");
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new ModelLoadError(modelId, file, `not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ModelLoadError(modelId, file, "expected a JSON object");
  }
  return value as Record<string, any>;
}

function checkNonEmpty(modelId: string, file: string): string {
  const size = statSync(file).size;
  if (size === 0) throw new ModelLoadError(modelId, file, "file is empty");
  return file;
}
