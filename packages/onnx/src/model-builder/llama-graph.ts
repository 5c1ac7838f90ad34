/**
 * A Llama-shaped causal LM (RMSNorm, rotary position embeddings, grouped-query attention, SwiGLU
 * MLP, untied LM head) in standard ONNX ops (opset 17), with the Hugging Face export's inputs and
 * outputs. The cache holds `kvHeads` heads per layer; each is shared by heads / kvHeads query heads.
 */
import { OnnxGraph } from "./onnx-graph.js";
import { createNormal, createRandom } from "../random.js";
import { attend, attentionBias, causalLmInputs, causalLmOutputs, filled, weightFactory } from "./graph-parts.js";
import type { LlamaSpec } from "./specs.js";

export function buildLlamaOnnx(spec: LlamaSpec, metadata: Record<string, string>): Uint8Array {
  const g = new OnnxGraph();
  const { layers, heads, kvHeads, hidden, vocabSize } = spec;
  if (heads % kvHeads !== 0) throw new Error(`heads (${heads}) must be a multiple of kvHeads (${kvHeads})`);
  const headDim = hidden / heads;
  const weights = weightFactory(g, createNormal(createRandom(spec.seed)));

  const { inputIds, attentionMask, positionIds, past } = causalLmInputs(g, layers, kvHeads, headDim);

  const rmsNorm = (x: string, name: string) => {
    const meanSquare = g.op("ReduceMean", [g.op("Mul", [x, x])], { axes: [-1], keepdims: 1 });
    const inverse = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [meanSquare, g.scalar(spec.rmsNormEpsilon)])])]);
    return g.op("Mul", [g.op("Mul", [x, inverse]), filled(g, `${name}.weight`, hidden, 1)]);
  };
  const linear = (x: string, name: string, fanIn: number, fanOut: number) =>
    g.op("MatMul", [x, weights(`${name}.weight`, [fanIn, fanOut], 1 / Math.sqrt(fanIn))]);

  let stream = g.op("Gather", [weights("model.embed_tokens.weight", [vocabSize, hidden], 1), inputIds]);
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
  // [batch, kvHeads, total, d] → [batch, heads, total, d]: each key/value head serves a group.
  const repeatKv = (x: string) =>
    kvHeads === heads
      ? x
      : g.op("Reshape", [g.op("Expand", [g.op("Unsqueeze", [x, g.ints([2])]), g.ints([1, 1, heads / kvHeads, 1, 1])]), g.ints([0, heads, -1, headDim])]);

  for (let layer = 0; layer < layers; layer++) {
    const p = `model.layers.${layer}`;
    const normed = rmsNorm(stream, `${p}.input_layernorm`);
    const q = rotate(toHeads(linear(normed, `${p}.self_attn.q_proj`, hidden, heads * headDim), heads));
    const k = rotate(toHeads(linear(normed, `${p}.self_attn.k_proj`, hidden, kvHeads * headDim), kvHeads));
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
  const logits = linear(rmsNorm(stream, "model.norm"), "lm_head", hidden, vocabSize);
  g.rename(logits, "logits");

  causalLmOutputs(g, layers, kvHeads, headDim, vocabSize);
  return g.toBytes("llama", metadata);
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
  for (let position = 0; position < spec.positions; position++) {
    for (let i = 0; i < half; i++) {
      const angle = position / spec.ropeTheta ** ((2 * i) / headDim);
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
