/**
 * A models directory (docs/models.md, "A models directory"): every folder under it in the
 * Hugging Face ONNX layout (a `config.json` in it) is a model, `name/` served as "name" and
 * `org/name/` (a Hub cache's two levels) as "org/name". Read without loading anything: what a
 * model is (its ModelInfo, as far as its JSON files say) and what it would take in memory (its
 * graph's files' sizes), so that unloaded models can be listed and budgeted. Hidden folders
 * (".cache", a builder's ".tmp-" staging) are skipped; a folder that cannot be read is left out
 * with a warning, not a failed start.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ModelInfo } from "@modelnode/core/pipeline";
import { ChatTemplate } from "../shared/chat-template.js";
import type { PipelineLogger } from "../shared/logger.js";
import { chooseOnnxFile, dtypeOfFile, ModelLoadError, type ModelDtype } from "../shared/model-files.js";

export interface DirectoryModel {
  id: string;
  dir: string;
  /** What the model's files say before it is loaded (the engine's own info replaces it once loaded). */
  info: ModelInfo;
  /** Estimated memory when loaded: the chosen graph's file and its external weight files, in bytes. */
  sizeBytes: number;
  /** config.json's modification time when this was read. */
  configMtimeMs: number;
  /** The graph asked for by an id `<folder id>:<dtype>`; absent: chosen as for a model without a dtype. */
  dtype?: ModelDtype;
}

function mtimeOf(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

/**
 * Every model folder under `root` (one or two levels deep), sorted by id. A folder in `known`
 * (an earlier scan's) whose config.json has not changed is taken from there, not read again.
 */
export function scanModelsDir(root: string, logger: PipelineLogger, known: ReadonlyMap<string, DirectoryModel> = new Map(), dtype?: ModelDtype): DirectoryModel[] {
  const found: DirectoryModel[] = [];
  const visit = (dir: string, id: string, depth: number) => {
    if (existsSync(join(dir, "config.json"))) {
      const before = known.get(id);
      const model = before && before.dir === dir && before.configMtimeMs === mtimeOf(join(dir, "config.json")) ? before : describeModelDir(id, dir, logger, dtype);
      if (model) found.push(model);
      return;
    }
    if (depth >= 2) return;
    for (const name of subfolders(dir)) visit(join(dir, name), id ? `${id}/${name}` : name, depth + 1);
  };
  visit(root, "", 0);
  return found.sort((a, b) => a.id.localeCompare(b.id));
}

function subfolders(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => (entry.isDirectory() || entry.isSymbolicLink()) && !entry.name.startsWith(".") && !entry.name.includes(".tmp-"))
      .filter((entry) => entry.isDirectory() || statSync(join(dir, entry.name)).isDirectory())
      .map((entry) => entry.name);
  } catch {
    return [];
  }
}

/** One model folder read as a model (undefined, with a warning, when it cannot be). */
export function describeModelDir(id: string, dir: string, logger: PipelineLogger, dtype?: ModelDtype): DirectoryModel | undefined {
  if (id === "") return undefined; // the directory itself is one model folder: not a models directory
  try {
    const config = readObject(join(dir, "config.json")) ?? {};
    const generationConfig = readObject(join(dir, "generation_config.json")) ?? {};
    // tokenizer.json (large for big vocabularies) is only checked here; the engine reads it when loading.
    if (!existsSync(join(dir, "tokenizer.json"))) throw new ModelLoadError(id, join(dir, "tokenizer.json"), "missing");
    const tokenizerConfig = readObject(join(dir, "tokenizer_config.json")) ?? {};
    const onnx = chooseOnnxFile(id, dir, dtype);
    const onnxPath = join(dir, onnx);
    const sizeBytes = [onnxPath, `${onnxPath}_data`, `${onnxPath}.data`].reduce((sum, file) => sum + (existsSync(file) ? statSync(file).size : 0), 0);
    const template = ChatTemplate.load(id, dir, tokenizerConfig);
    const architecture = typeof config.model_type === "string" && config.model_type ? config.model_type : undefined;
    const eos = ids(generationConfig.eos_token_id ?? config.eos_token_id);
    const bos = ids(generationConfig.bos_token_id ?? config.bos_token_id)[0];
    const fileDtype = dtype ?? dtypeOfFile(onnx) ?? "fp32";
    const info: ModelInfo = {
      id,
      contextLength: [config.n_positions, config.max_position_embeddings, config.n_ctx, tokenizerConfig.model_max_length].find((v) => Number.isInteger(v) && v > 0 && v < 10_000_000) ?? 0,
      vocabSize: Number.isInteger(config.vocab_size) ? config.vocab_size : 0,
      description: `${architecture ?? "unknown"}${fileDtype !== "fp32" ? `, ${fileDtype}` : ""} (not loaded)`,
      eosTokenIds: eos,
      ...(bos !== undefined ? { bosTokenId: bos } : {}),
      ...(architecture ? { architecture } : {}),
      hasChatTemplate: template.own,
      toolCallFormat: template.toolFormat,
    };
    return { id, dir, info, sizeBytes, configMtimeMs: mtimeOf(join(dir, "config.json")), ...(dtype ? { dtype } : {}) };
  } catch (error) {
    logger.warn({ model: id, dir, err: error }, "models directory: folder left out (it cannot be read as a model)");
    return undefined;
  }
}

function readObject(file: string): Record<string, any> | undefined {
  if (!existsSync(file)) return undefined;
  const value: unknown = JSON.parse(readFileSync(file, "utf8"));
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, any>) : undefined;
}

function ids(value: unknown): number[] {
  return (Array.isArray(value) ? value : [value]).filter((v): v is number => Number.isInteger(v) && v >= 0);
}
