/**
 * Which files of a transformers.js-style repository one dtype needs: its graph (the first of
 * @modelnode/onnx's candidates that the repository holds), the graph's external data files, and the
 * config, generation config, tokenizer and chat template files. Everything else (other dtypes'
 * graphs, safetensors, README, …) stays on the Hub.
 */

/**
 * transformers.js's file-name suffix per dtype. The same table as @modelnode/onnx's DTYPE_SUFFIXES
 * (a test checks they agree); copied so that pulling a model needs no ONNX Runtime installed.
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

export type PullDtype = keyof typeof DTYPE_SUFFIXES;

export const PULL_DTYPES = Object.keys(DTYPE_SUFFIXES) as PullDtype[];

/** Graph base names in @modelnode/onnx's order of preference. */
const GRAPH_NAMES = ["model", "decoder_model_merged", "decoder_with_past_model"];

/** The files besides the graph that the node (and transformers.js) read, when the repository has them. */
export const SUPPORT_FILES = [
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "added_tokens.json",
  "chat_template.jinja",
  "chat_template.json",
];

/** The graph files `dtype` may be, in order of preference (onnx/ first, then the top level). */
export function graphCandidates(dtype: PullDtype): string[] {
  return GRAPH_NAMES.flatMap((name) => [`onnx/${name}${DTYPE_SUFFIXES[dtype]}.onnx`, `${name}${DTYPE_SUFFIXES[dtype]}.onnx`]);
}

/** The dtype a graph file's name says (onnx/model_q4f16.onnx → q4f16), or undefined for other files. */
export function dtypeOfGraph(path: string): PullDtype | undefined {
  const base = path.split("/").pop()!;
  if (!base.endsWith(".onnx")) return undefined;
  const stem = base.slice(0, -".onnx".length);
  for (const name of GRAPH_NAMES) {
    if (!stem.startsWith(name)) continue;
    const found = PULL_DTYPES.find((dtype) => DTYPE_SUFFIXES[dtype] === stem.slice(name.length));
    if (found) return found;
  }
  return undefined;
}

export interface DtypeSelection {
  dtype: PullDtype;
  graph: string;
  /** Every path to fetch, the graph and its external data included, sorted. */
  paths: string[];
}

/**
 * Picks `dtype`'s files from a repository's file list. Without a dtype: fp32 when the repository
 * has it, else its only graph; `undefined` with the dtypes found when it cannot choose, so the
 * caller can say which exist.
 */
export function selectDtypeFiles(
  files: readonly string[],
  dtype: PullDtype | undefined,
): { ok: true; selection: DtypeSelection } | { ok: false; available: PullDtype[] } {
  const present = new Set(files);
  const available = [...new Set(files.map(dtypeOfGraph).filter((d): d is PullDtype => d !== undefined))].sort(
    (a, b) => PULL_DTYPES.indexOf(a) - PULL_DTYPES.indexOf(b),
  );
  const chosen = dtype ?? (available.includes("fp32") ? "fp32" : available.length === 1 ? available[0] : undefined);
  const graph = chosen && graphCandidates(chosen).find((path) => present.has(path));
  if (!chosen || !graph) return { ok: false, available };
  // ONNX external data: model.onnx_data, and model.onnx_data_1, … when split.
  const external = files.filter((path) => path === `${graph}_data` || path.startsWith(`${graph}_data_`));
  const support = SUPPORT_FILES.filter((path) => present.has(path));
  return { ok: true, selection: { dtype: chosen, graph, paths: [...support, graph, ...external].sort() } };
}
