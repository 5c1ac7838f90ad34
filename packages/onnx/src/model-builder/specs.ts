/**
 * What the model builder can write: GPT-2- and Llama-shaped causal LMs with seeded random weights,
 * in the Hugging Face ONNX layout. The presets are the models this repository builds for itself:
 * the bundled tiny model, a Llama-shaped one (grouped-query attention, RoPE, RMSNorm, SwiGLU), a
 * deliberately slow one for tests that must see a busy engine, and a GPT-2-small-shaped one
 * (124M parameters, ~500 MB) that benchmarks generate on demand. Their text is meaningless.
 */
export interface Gpt2Spec {
  architecture: "gpt2";
  layers: number;
  heads: number;
  hidden: number;
  positions: number;
  vocabSize: number;
  layerNormEpsilon: number;
  /** Seeds every weight; the same spec gives byte-identical files. */
  seed: number;
  /**
   * Extra matrix products (512 × 512 each, tanh between) computed on every run and added to the
   * logits times zero: the same outputs, a slower run. For tests of a busy engine.
   */
  busyWorkMatMuls?: number;
}

export interface LlamaSpec {
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
  seed: number;
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
} as const satisfies Record<string, ModelSpec>;

export type ModelPreset = keyof typeof MODEL_PRESETS;
