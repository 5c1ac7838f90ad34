/**
 * Writes a model of a `ModelSpec` (see specs.ts) in the Hugging Face ONNX layout: config.json,
 * generation_config.json, the GPT-2 tokenizer files (or a tokenizer of the caller's) and one graph
 * per dtype under transformers.js's names (onnx/model.onnx, onnx/model_fp16.onnx, …). Models are generated
 * rather than committed: seeded and deterministic. Their text is meaningless by design; they
 * exist so that tests, benches and the default start run real causal LMs offline.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { buildGpt2Model } from "./gpt2-graph.js";
import { buildGpt2TokenizerFiles } from "./gpt2-tokenizer-files.js";
import { buildLlamaModel } from "./llama-graph.js";
import { encodeModel } from "./onnx-graph.js";
import { copyTokenizer, readTokenizerSource, type TokenizerSource } from "./tokenizer-source.js";
import { applyVariant, DTYPE_FILES, moveWeightsToExternalData } from "./variants.js";
import { MODEL_PRESETS, type ModelPreset, type ModelSpec } from "./specs.js";

/** Bump when the builder's output changes, so `ifMissing` rebuilds stale copies. */
export const TINY_MODEL_BUILDER_VERSION = 3;

const EOS_ID = 50256;
const GPT2_TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

export interface BuildModelOptions {
  /** Directory to write (created; replaced when rebuilding). */
  out: string;
  /** A preset name or a spec of its own. */
  model: ModelPreset | ModelSpec;
  /** Do nothing when `out` already holds this model from this builder version. */
  ifMissing?: boolean;
  /**
   * A tokenizer.json, or a folder holding one (with tokenizer_config.json, special_tokens_map.json,
   * chat_template.jinja when present), to copy in instead of GPT-2's tokenizer files.
   */
  tokenizer?: string;
}

export type BuildTinyModelOptions = Omit<BuildModelOptions, "model">;

/** Builds the model; returns whether anything was written. */
export function buildModel({ out, model, ifMissing = false, tokenizer }: BuildModelOptions): { built: boolean; dir: string } {
  const spec: ModelSpec = typeof model === "string" ? MODEL_PRESETS[model] : model;
  if (!spec) throw new Error(`unknown model preset "${model}"; presets: ${Object.keys(MODEL_PRESETS).join(", ")}`);
  const source = tokenizer === undefined ? undefined : readTokenizerSource(tokenizer, spec.vocabSize);
  const current = () => isModelCurrent(out, spec, { tokenizer });
  if (ifMissing && current()) return { built: false, dir: out };
  // Write into a sibling temp dir and rename, so a reader (or a concurrent builder) never sees a
  // half-written model.
  const staging = `${out}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(join(staging, "onnx"), { recursive: true });
  try {
    writeModelFiles(staging, spec, source);
    mkdirSync(dirname(out), { recursive: true });
    if (existsSync(out)) {
      if (ifMissing && current()) return { built: false, dir: out }; // another builder won
      rmSync(out, { recursive: true, force: true });
    }
    renameSync(staging, out);
  } catch (error) {
    if (ifMissing && current()) return { built: false, dir: out };
    throw error;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return { built: true, dir: out };
}

/** The bundled model (preset "tiny-gpt2"). */
export function buildTinyModel(options: BuildTinyModelOptions): { built: boolean; dir: string } {
  return buildModel({ ...options, model: "tiny-gpt2" });
}

export function isTinyModelCurrent(dir: string): boolean {
  return isModelCurrent(dir, MODEL_PRESETS["tiny-gpt2"]);
}

/**
 * Whether `dir` holds every file of `spec`'s model, written by this builder version (with the
 * tokenizer copied from `tokenizer` when one is given).
 */
export function isModelCurrent(dir: string, spec: ModelSpec, { tokenizer }: { tokenizer?: string } = {}): boolean {
  if (!filesOf(spec, tokenizer !== undefined).every((file) => existsSync(join(dir, file)))) return false;
  try {
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    return (
      config.modelnode_builder_version === TINY_MODEL_BUILDER_VERSION &&
      JSON.stringify(config.modelnode_spec) === JSON.stringify(spec) &&
      config.modelnode_tokenizer === (tokenizer === undefined ? undefined : resolve(tokenizer))
    );
  } catch {
    return false;
  }
}

/** The files a spec's folder holds (at least: a copied tokenizer folder may add its companions). */
function filesOf(spec: ModelSpec, ownTokenizer: boolean): string[] {
  const tokenizer = ownTokenizer ? ["tokenizer.json"] : spec.architecture === "llama" && spec.tokenizer === "none" ? [] : GPT2_TOKENIZER_FILES;
  const graphs = dtypesOf(spec).map((dtype) => join("onnx", DTYPE_FILES[dtype]));
  const data = spec.externalData ? graphs.map((graph) => `${graph}_data`) : [];
  return ["config.json", "generation_config.json", ...tokenizer, ...graphs, ...data];
}

function dtypesOf(spec: ModelSpec) {
  return spec.dtypes ?? ["fp32"];
}

function writeModelFiles(dir: string, spec: ModelSpec, tokenizer: TokenizerSource | undefined): void {
  const llama = spec.architecture === "llama" ? spec : undefined;
  const bos = llama?.bosTokenId ?? EOS_ID;
  const eos = llama?.eosTokenIds ?? EOS_ID;
  const json = (name: string, value: unknown) => writeFileSync(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  json("config.json", {
    ...(spec.architecture === "gpt2" ? gpt2Config(spec) : llamaConfig(spec)),
    vocab_size: spec.vocabSize,
    bos_token_id: bos,
    eos_token_id: eos,
    use_cache: true,
    torch_dtype: "float32",
    modelnode_builder_version: TINY_MODEL_BUILDER_VERSION,
    modelnode_spec: spec,
    ...(tokenizer ? { modelnode_tokenizer: tokenizer.path } : {}),
    modelnode_note: "Seeded random weights generated by @modelnode/model-builder; the text it produces is meaningless by design.",
  });
  const sampling = llama?.sampling ? { do_sample: true, temperature: llama.sampling.temperature, top_p: llama.sampling.topP, ...(llama.sampling.topK !== undefined ? { top_k: llama.sampling.topK } : {}) } : {};
  json("generation_config.json", { bos_token_id: bos, eos_token_id: eos, use_cache: true, ...sampling });
  if (tokenizer) {
    copyTokenizer(tokenizer, dir);
  } else if (llama?.tokenizer !== "none") {
    const tokenizerFiles = buildGpt2TokenizerFiles(spec.positions);
    for (const [name, value] of Object.entries(tokenizerFiles)) json(name, value);
  }
  const metadata = { producer: "@modelnode/model-builder", modelnode_builder_version: String(TINY_MODEL_BUILDER_VERSION) };
  // Each dtype's graph is rewritten from a fresh fp32 graph (the rewrite works in place).
  const fp32Model = () => (spec.architecture === "gpt2" ? buildGpt2Model(spec, metadata) : buildLlamaModel(spec, metadata));
  for (const dtype of dtypesOf(spec)) {
    const path = join(dir, "onnx", DTYPE_FILES[dtype]);
    writeFileSync(path, encodeModel(dtype === "fp32" ? fp32Model() : applyVariant(fp32Model(), dtype)));
    if (spec.externalData) moveWeightsToExternalData(path);
  }
}

function gpt2Config(spec: Extract<ModelSpec, { architecture: "gpt2" }>) {
  return {
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    activation_function: "gelu",
    n_layer: spec.layers,
    n_head: spec.heads,
    n_embd: spec.hidden,
    n_positions: spec.positions,
    n_ctx: spec.positions,
    n_inner: null,
    layer_norm_epsilon: spec.layerNormEpsilon,
    tie_word_embeddings: true,
  };
}

function llamaConfig(spec: Extract<ModelSpec, { architecture: "llama" }>) {
  const scaling = spec.ropeScaling;
  return {
    ...(scaling
      ? {
          rope_scaling: {
            rope_type: "llama3",
            factor: scaling.factor,
            low_freq_factor: scaling.lowFreqFactor,
            high_freq_factor: scaling.highFreqFactor,
            original_max_position_embeddings: scaling.originalMaxPositions,
          },
        }
      : {}),
    ...(spec.family === "qwen3" ? { architectures: ["Qwen3ForCausalLM"], model_type: "qwen3" } : { architectures: ["LlamaForCausalLM"], model_type: "llama" }),
    hidden_act: "silu",
    hidden_size: spec.hidden,
    intermediate_size: spec.intermediate,
    num_hidden_layers: spec.layers,
    num_attention_heads: spec.heads,
    num_key_value_heads: spec.kvHeads,
    head_dim: spec.hidden / spec.heads,
    max_position_embeddings: spec.positions,
    rms_norm_eps: spec.rmsNormEpsilon,
    rope_theta: spec.ropeTheta,
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: spec.tiedEmbeddings === true,
  };
}
