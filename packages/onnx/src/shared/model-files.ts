/**
 * Reads a model directory in the Hugging Face ONNX layout. Anything missing or unreadable is
 * reported as a `ModelLoadError` naming the exact file, because a node that starts with a
 * broken model should say which file to fix.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** Where the ONNX graph may live, in order of preference (optimum and transformers.js layouts). */
export const ONNX_FILE_CANDIDATES = [
  join("onnx", "model.onnx"),
  "model.onnx",
  join("onnx", "decoder_model_merged.onnx"),
  "decoder_model_merged.onnx",
  join("onnx", "decoder_with_past_model.onnx"),
];

/**
 * Weight formats of a transformers.js-style folder, as file-name suffixes (transformers.js's
 * DEFAULT_DTYPE_SUFFIX_MAPPING): `onnx/model.onnx` is fp32, `onnx/model_fp16.onnx` fp16, and so on.
 */
export const DTYPE_SUFFIXES = {
  fp32: "",
  fp16: "_fp16",
  q8: "_quantized",
  int8: "_int8",
  uint8: "_uint8",
  q4: "_q4",
  q4f16: "_q4f16",
  bnb4: "_bnb4",
} as const;

export type ModelDtype = keyof typeof DTYPE_SUFFIXES;

export const MODEL_DTYPES = Object.keys(DTYPE_SUFFIXES) as ModelDtype[];

/** Graph base names, in order of preference (transformers.js / optimum). */
const GRAPH_NAMES = ["model", "decoder_model_merged", "decoder_with_past_model"];

/** Which graph of a folder `dtype` names: onnx/<name><suffix>.onnx, then <name><suffix>.onnx, per graph name. */
export function dtypeCandidates(dtype: ModelDtype): string[] {
  return GRAPH_NAMES.flatMap((name) => [join("onnx", `${name}${DTYPE_SUFFIXES[dtype]}.onnx`), `${name}${DTYPE_SUFFIXES[dtype]}.onnx`]);
}

/** The dtype a graph file's name says (model_q4f16.onnx → q4f16), or undefined for other names. */
export function dtypeOfFile(file: string): ModelDtype | undefined {
  const base = file.split(/[\\/]/).pop()!.replace(/\.onnx$/, "");
  for (const name of GRAPH_NAMES) {
    if (!base.startsWith(name)) continue;
    const suffix = base.slice(name.length);
    const found = MODEL_DTYPES.find((dtype) => DTYPE_SUFFIXES[dtype] === suffix);
    if (found) return found;
  }
  return undefined;
}

/** Every .onnx file in `dir` and `dir/onnx`, relative to `dir`, sorted. */
export function onnxFilesIn(dir: string): string[] {
  const list = (sub: string) => {
    try {
      return readdirSync(join(dir, sub)).filter((name) => name.endsWith(".onnx")).map((name) => (sub ? join(sub, name) : name));
    } catch {
      return [];
    }
  };
  return [...list("onnx"), ...list("")].sort();
}

/**
 * The graph to load, relative to `dir`. With a dtype: that dtype's file (a missing one is an error
 * listing the graphs the folder holds). Without: the fp32 graph when there is one, else the only
 * graph of the folder; several and no fp32 one is an error asking for a dtype.
 */
export function chooseOnnxFile(modelId: string, dir: string, dtype: ModelDtype | undefined): string {
  const present = onnxFilesIn(dir);
  const listed = present.length > 0 ? `the folder holds ${present.join(", ")}` : "the folder holds no .onnx file";
  if (dtype !== undefined) {
    if (!MODEL_DTYPES.includes(dtype)) {
      throw new ModelLoadError(modelId, dir, `unknown dtype "${String(dtype)}" (one of ${MODEL_DTYPES.join(", ")})`);
    }
    const found = dtypeCandidates(dtype).find((file) => existsSync(join(dir, file)));
    if (!found) throw new ModelLoadError(modelId, join(dir, dtypeCandidates(dtype)[0]), `missing: no ${dtype} graph (${listed})`);
    return found;
  }
  const fp32 = ONNX_FILE_CANDIDATES.find((file) => existsSync(join(dir, file)));
  if (fp32) return fp32;
  if (present.length === 1) return present[0];
  if (present.length === 0) throw new ModelLoadError(modelId, join(dir, ONNX_FILE_CANDIDATES[0]), "missing (no ONNX model file found in the directory)");
  const dtypes = present.map(dtypeOfFile).filter((d): d is ModelDtype => d !== undefined);
  throw new ModelLoadError(
    modelId,
    join(dir, ONNX_FILE_CANDIDATES[0]),
    `missing, and ${listed}: choose one with a dtype${dtypes.length > 0 ? ` (${dtypes.join(", ")})` : ""}`,
  );
}

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
  /** The weight format the graph's file name says (fp32 for model.onnx and other unsuffixed names). */
  dtype: ModelDtype;
}

export function readModelFiles(modelId: string, dir: string, dtype?: ModelDtype): ModelFiles {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ModelLoadError(modelId, dir, "model directory does not exist");
  }
  const config = readJson(modelId, join(dir, "config.json"), true)!;
  const { tokenizerJson, tokenizerConfig } = readTokenizerFiles(modelId, dir);
  const onnxRelative = chooseOnnxFile(modelId, dir, dtype);
  const onnxPath = join(dir, onnxRelative);
  return {
    dir,
    config,
    generationConfig: readJson(modelId, join(dir, "generation_config.json"), false) ?? {},
    tokenizerJson,
    tokenizerConfig,
    onnxPath: checkNonEmpty(modelId, onnxPath),
    dtype: dtype ?? dtypeOfFile(onnxRelative) ?? "fp32",
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
