/**
 * A Llama-shaped causal LM (RMSNorm, rotary position embeddings, grouped-query attention, SwiGLU
 * MLP, untied LM head; Qwen3's per-head q/k norms with family "qwen3") in standard ONNX ops (opset 17), with the Hugging Face export's inputs and
 * outputs. The cache holds `kvHeads` heads per layer; each is shared by heads / kvHeads query heads.
 */
import type onnxProto from "onnx-proto";
import { encodeModel, OnnxGraph } from "./onnx-graph.js";
import { createNormal, createRandom } from "./random.js";
import { attend, attentionBias, causalLmInputs, causalLmOutputs, filled, weightFactory } from "./graph-parts.js";
import type { LlamaSpec } from "./specs.js";

export function buildLlamaOnnx(spec: LlamaSpec, metadata: Record<string, string>): Uint8Array {
  return encodeModel(buildLlamaModel(spec, metadata));
}

export function buildLlamaModel(spec: LlamaSpec, metadata: Record<string, string>): onnxProto.onnx.IModelProto {
  const g = new OnnxGraph();
  const { layers, heads, kvHeads, hidden, vocabSize } = spec;
  if (heads % kvHeads !== 0) throw new Error(`heads (${heads}) must be a multiple of kvHeads (${kvHeads})`);
  const headDim = hidden / heads;
  const weights = weightFactory(g, createNormal(createRandom(spec.seed)));

  const { inputIds, attentionMask, positionIds, past } = causalLmInputs(g, layers, kvHeads, headDim);
  const keep = spec.numLogitsToKeep ? g.input("num_logits_to_keep", "int64", []) : undefined;

  const rmsNorm = (x: string, name: string, width = hidden) => {
    const meanSquare = g.op("ReduceMean", [g.op("Mul", [x, x])], { axes: [-1], keepdims: 1 });
    const inverse = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [meanSquare, g.scalar(spec.rmsNormEpsilon)])])]);
    return g.op("Mul", [g.op("Mul", [x, inverse]), filled(g, `${name}.weight`, width, 1)]);
  };
  const linear = (x: string, name: string, fanIn: number, fanOut: number) =>
    g.op("MatMul", [x, weights(`${name}.weight`, [fanIn, fanOut], 1 / Math.sqrt(fanIn))]);

  const embedding = weights("model.embed_tokens.weight", [vocabSize, hidden], 1);
  let stream = g.op("Gather", [embedding, inputIds]);
  // A tied head reads the embedding back, so an unmixed stream predicts its own token and greedy
  // text repeats it forever: as in gpt2-graph.ts, a fixed random mixing matrix breaks that.
  if (spec.tiedEmbeddings) stream = g.op("MatMul", [stream, weights("model.embed_mix.weight", [hidden, hidden], 1 / Math.sqrt(hidden))]);
  const bias = attentionBias(g, inputIds, attentionMask);
  const [cos, sin] = rotaryTables(g, spec, positionIds, headDim);
  const rotate = (x: string) => {
    // x·cos + rotate_half(x)·sin, where rotate_half(x) = [-x₂, x₁] over the two halves of head_dim.
    const [first, second] = g.opMulti("Split", [x, g.ints([headDim / 2, headDim / 2])], { axis: 3 }, 2);
    const rotated = g.op("Concat", [g.op("Neg", [second]), first], { axis: 3 });
    return g.op("Add", [g.op("Mul", [x, cos]), g.op("Mul", [rotated, sin])]);
  };
  const toHeads = (x: string, count: number) =>
    g.op("Transpose", [g.op("Reshape", [x, g.ints([0, 0, count, headDim])])], { perm: [0, 2, 1, 3] });
  // Qwen3: an RMSNorm over each head's head_dim values (one weight per dimension, shared by heads).
  const headNorm = (x: string, name: string) =>
    spec.family !== "qwen3" ? x : rmsNorm(x, name, headDim);
  // [batch, kvHeads, total, d] → [batch, heads, total, d]: each key/value head serves a group.
  const repeatKv = (x: string) =>
    kvHeads === heads
      ? x
      : g.op("Reshape", [g.op("Expand", [g.op("Unsqueeze", [x, g.ints([2])]), g.ints([1, 1, heads / kvHeads, 1, 1])]), g.ints([0, heads, -1, headDim])]);

  for (let layer = 0; layer < layers; layer++) {
    const p = `model.layers.${layer}`;
    const normed = rmsNorm(stream, `${p}.input_layernorm`);
    const q = rotate(headNorm(toHeads(linear(normed, `${p}.self_attn.q_proj`, hidden, heads * headDim), heads), `${p}.self_attn.q_norm`));
    const k = rotate(headNorm(toHeads(linear(normed, `${p}.self_attn.k_proj`, hidden, kvHeads * headDim), kvHeads), `${p}.self_attn.k_norm`));
    const v = toHeads(linear(normed, `${p}.self_attn.v_proj`, hidden, kvHeads * headDim), kvHeads);
    const keys = g.rename(g.op("Concat", [past[layer][0], k], { axis: 2 }), `present.${layer}.key`);
    const values = g.rename(g.op("Concat", [past[layer][1], v], { axis: 2 }), `present.${layer}.value`);
    const merged = attend(g, q, repeatKv(keys), repeatKv(values), bias, headDim, hidden);
    stream = g.op("Add", [stream, linear(merged, `${p}.self_attn.o_proj`, hidden, hidden)]);

    const mlpIn = rmsNorm(stream, `${p}.post_attention_layernorm`);
    const gate = linear(mlpIn, `${p}.mlp.gate_proj`, hidden, spec.intermediate);
    const silu = g.op("Mul", [gate, g.op("Sigmoid", [gate])]);
    const up = linear(mlpIn, `${p}.mlp.up_proj`, hidden, spec.intermediate);
    stream = g.op("Add", [stream, linear(g.op("Mul", [silu, up]), `${p}.mlp.down_proj`, spec.intermediate, hidden)]);
  }
  let final = rmsNorm(stream, "model.norm");
  // num_logits_to_keep = k: the last k positions only (Slice from -k; -0 = 0 keeps them all).
  if (keep) final = g.op("Slice", [final, g.op("Neg", [g.op("Unsqueeze", [keep, g.ints([0])])]), g.ints([2 ** 53]), g.ints([1])]);
  // Tied: MatMul by the embedding's transpose (Transpose of an initializer, folded at load).
  const logits = spec.tiedEmbeddings
    ? g.op("MatMul", [final, g.op("Transpose", [embedding], { perm: [1, 0] })])
    : linear(final, "lm_head", hidden, vocabSize);
  g.rename(logits, "logits");

  causalLmOutputs(g, layers, kvHeads, headDim, vocabSize);
  return g.toModel("llama", metadata);
}

/**
 * cos and sin of position × inverse frequency, as Hugging Face's LlamaRotaryEmbedding computes
 * them (frequencies repeated over both halves of head_dim), looked up per token:
 * [batch, 1, seq, head_dim] each, broadcast over heads.
 */
function rotaryTables(g: OnnxGraph, spec: LlamaSpec, positionIds: string, headDim: number): [string, string] {
  const half = headDim / 2;
  const cos = new Float32Array(spec.positions * headDim);
  const sin = new Float32Array(spec.positions * headDim);
  const inverse = Array.from({ length: half }, (_, i) => scaledFrequency(1 / spec.ropeTheta ** ((2 * i) / headDim), spec.ropeScaling));
  for (let position = 0; position < spec.positions; position++) {
    for (let i = 0; i < half; i++) {
      const angle = spec.ropeScaling ? position * inverse[i] : position / spec.ropeTheta ** ((2 * i) / headDim);
      for (const j of [i, i + half]) {
        cos[position * headDim + j] = Math.cos(angle);
        sin[position * headDim + j] = Math.sin(angle);
      }
    }
  }
  const lookup = (table: Float32Array, name: string) =>
    g.op("Unsqueeze", [g.op("Gather", [g.floatTensor(name, table, [spec.positions, headDim]), positionIds]), g.ints([1])]);
  return [lookup(cos, "rope.cos"), lookup(sin, "rope.sin")];
}

/** Hugging Face's _compute_llama3_parameters: long wavelengths slowed by `factor`, a smooth band between. */
function scaledFrequency(frequency: number, scaling: LlamaSpec["ropeScaling"]): number {
  if (!scaling) return frequency;
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions } = scaling;
  const wavelength = (2 * Math.PI) / frequency;
  if (wavelength < originalMaxPositions / highFreqFactor) return frequency;
  if (wavelength > originalMaxPositions / lowFreqFactor) return frequency / factor;
  const smooth = (originalMaxPositions / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
  return (1 - smooth) * (frequency / factor) + smooth * frequency;
}
