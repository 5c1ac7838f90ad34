/**
 * What GET /api/tags, GET /api/ps, POST /api/show and GET /api/version answer, in Ollama's
 * shapes, from what the pipeline says about its models (ModelInfo). This node has no model
 * files in Ollama's sense: `size` is the pipeline's estimate of the model's memory when it loads
 * models on demand (docs/models.md), else 0; the `digest` is a SHA-256 of the model's id and facts
 * (stable while they are, not a content digest), `modified_at` is when the node started, and
 * /api/ps lists the loaded models, with `expires_at` when an idle one is due to be unloaded
 * (else the latest date JSON clients parse: a model loaded for as long as the node runs, or one
 * with requests running; `size_vram` 0). A name with Ollama's default tag (`tiny-gpt2:latest`) is the
 * model of that id.
 */
import { createHash } from "node:crypto";
import type { ModelInfo, ModelPipeline } from "@modelnode/core";
import type { ResolvedOllamaOptions } from "./options.js";

export interface OllamaModelDetails {
  parent_model: string;
  format: string;
  family: string;
  families: string[];
  parameter_size: string;
  quantization_level: string;
}

export interface OllamaModel {
  name: string;
  model: string;
  modified_at: string;
  size: number;
  digest: string;
  details: OllamaModelDetails;
}

export interface OllamaRunningModel extends OllamaModel {
  expires_at: string;
  size_vram: number;
}

export interface OllamaShowResponse {
  modelfile: string;
  parameters: string;
  template: string;
  details: OllamaModelDetails;
  model_info: Record<string, string | number>;
  capabilities: string[];
  modified_at: string;
}

/** Never unloaded: the latest instant of year 9999, which every client's date parser takes. */
const NEVER = "9999-12-31T23:59:59Z";
const DEFAULT_TAG = ":latest";

/** The served model a client's name means: the id itself, or the id with Ollama's default tag. */
export function findModel(pipeline: Pick<ModelPipeline, "listModels">, name: string): ModelInfo | undefined {
  const models = pipeline.listModels();
  return models.find((m) => m.id === name) ?? (name.endsWith(DEFAULT_TAG) ? models.find((m) => m.id === name.slice(0, -DEFAULT_TAG.length)) : undefined);
}

function detailsOf(info: ModelInfo): OllamaModelDetails {
  const family = info.architecture ?? "";
  return { parent_model: info.aliasOf ?? "", format: "onnx", family, families: family ? [family] : [], parameter_size: "", quantization_level: "" };
}

function digestOf(info: ModelInfo): string {
  const facts = [info.id, info.architecture, info.contextLength, info.vocabSize, info.aliasOf, info.description];
  return createHash("sha256").update(JSON.stringify(facts)).digest("hex");
}

export function modelEntry(info: ModelInfo, startedAt: Date): OllamaModel {
  return { name: info.id, model: info.id, modified_at: startedAt.toISOString(), size: info.sizeBytes ?? 0, digest: digestOf(info), details: detailsOf(info) };
}

export function runningEntry(info: ModelInfo, startedAt: Date): OllamaRunningModel {
  return { ...modelEntry(info, startedAt), expires_at: info.expiresAt !== undefined ? new Date(info.expiresAt).toISOString() : NEVER, size_vram: 0 };
}

/** Ollama's `parameters` text: the node's defaults for absent options, one "name value" per line. */
function parametersOf(defaults: ResolvedOllamaOptions["defaults"]): string {
  const lines = [`num_predict ${defaults.maxTokens}`];
  if (defaults.temperature !== undefined) lines.push(`temperature ${defaults.temperature}`);
  if (defaults.topP !== undefined) lines.push(`top_p ${defaults.topP}`);
  if (defaults.topK !== undefined) lines.push(`top_k ${defaults.topK}`);
  return lines.join("\n");
}

/**
 * POST /api/show. `template` is empty: chats are rendered with the model's own Jinja template
 * (or the pipeline's fallback), which has no Go-template form. `capabilities`: "completion", and
 * "tools" where the model takes tools (no vision, insert or thinking here).
 */
export function showOf(info: ModelInfo, startedAt: Date, defaults: ResolvedOllamaOptions["defaults"]): OllamaShowResponse {
  const arch = info.architecture ?? "unknown";
  const modelInfo: Record<string, string | number> = {
    "general.architecture": arch,
    "general.name": info.id,
    [`${arch}.context_length`]: info.contextLength,
    [`${arch}.vocab_size`]: info.vocabSize,
  };
  if (info.bosTokenId !== undefined) modelInfo["tokenizer.ggml.bos_token_id"] = info.bosTokenId;
  if (info.eosTokenIds?.length) modelInfo["tokenizer.ggml.eos_token_id"] = info.eosTokenIds[0];
  const parameters = parametersOf(defaults);
  return {
    modelfile: `# served by modelnode (ONNX Runtime); not an Ollama Modelfile\nFROM ${info.id}\n${parameters.split("\n").map((line) => `PARAMETER ${line}`).join("\n")}\n`,
    parameters,
    template: "",
    details: detailsOf(info),
    model_info: modelInfo,
    capabilities: info.toolCallFormat ? ["completion", "tools"] : ["completion"],
    modified_at: startedAt.toISOString(),
  };
}
