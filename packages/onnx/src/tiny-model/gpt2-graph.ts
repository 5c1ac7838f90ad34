/**
 * The tiny model's graph: a GPT-2-shaped causal LM with a key/value cache, written with standard
 * ONNX ops only (opset 17), so onnxruntime (any language binding) or transformers.js runs it.
 * Inputs and outputs follow the Hugging Face export layout (optimum / transformers.js).
 */
import { OnnxGraph } from "./onnx-graph.js";
import { createNormal, createRandom } from "../random.js";

export interface TinyGpt2Shape {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  nPositions: number;
  vocabSize: number;
  layerNormEpsilon: number;
  /** Seeds every weight; the same seed gives byte-identical files. */
  seed: number;
}

/** Builds the graph and returns the serialised ONNX model. */
export function buildGpt2Onnx(shape: TinyGpt2Shape, metadata: Record<string, string>): Uint8Array {
  const g = new OnnxGraph();
  const { nLayer, nHead, nEmbd, vocabSize } = shape;
  const headDim = nEmbd / nHead;
  const normal = createNormal(createRandom(shape.seed));
  // Weight scales: embeddings large enough that logits are spread out (sampling has something to
  // choose between), blocks at ~1/sqrt(fan_in) so each layer changes the residual stream enough
  // that the greedy continuation depends on the prompt instead of echoing the last token.
  const weights = (name: string, dims: number[], std: number): string => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = normal() * std;
    return g.floatTensor(name, data, dims);
  };
  const filled = (name: string, length: number, value: number): string =>
    g.floatTensor(name, new Float32Array(length).fill(value), [length]);

  const inputIds = g.input("input_ids", "int64", ["batch_size", "sequence_length"]);
  const attentionMask = g.input("attention_mask", "int64", ["batch_size", "total_sequence_length"]);
  const positionIds = g.input("position_ids", "int64", ["batch_size", "sequence_length"]);
  const pastNames: [string, string][] = [];
  for (let layer = 0; layer < nLayer; layer++) {
    const dims = ["batch_size", nHead, "past_sequence_length", headDim];
    pastNames.push([
      g.input(`past_key_values.${layer}.key`, "float32", dims),
      g.input(`past_key_values.${layer}.value`, "float32", dims),
    ]);
  }

  const wte = weights("transformer.wte.weight", [vocabSize, nEmbd], 0.5);
  const wpe = weights("transformer.wpe.weight", [shape.nPositions, nEmbd], 0.5);
  // The token embedding goes through a fixed random mixing matrix before entering the residual
  // stream. With a tied LM head, an unmixed embedding makes each token predict itself and greedy
  // decoding repeats one token forever; mixed, the next token is a pseudo-random function of the
  // context, so greedy text varies with the prompt (and is meaningless, as intended).
  const mix = weights("transformer.wte_mix.weight", [nEmbd, nEmbd], 1 / Math.sqrt(nEmbd));
  const tokenEmbedding = g.op("MatMul", [g.op("Gather", [wte, inputIds]), mix]);
  let hidden = g.op("Add", [tokenEmbedding, g.op("Gather", [wpe, positionIds])]);

  const attentionBias = buildAttentionBias(g, inputIds, attentionMask);
  const scale = g.scalar(1 / Math.sqrt(headDim));
  const toHeads = g.ints([0, 0, nHead, headDim]); // Reshape's 0 copies batch and sequence dims
  const fromHeads = g.ints([0, 0, nEmbd]);
  const splitSizes = g.ints([nEmbd, nEmbd, nEmbd]);

  for (let layer = 0; layer < nLayer; layer++) {
    const p = `transformer.h.${layer}`;
    const layerNorm = (x: string, name: string) =>
      g.op("LayerNormalization", [x, filled(`${p}.${name}.weight`, nEmbd, 1), filled(`${p}.${name}.bias`, nEmbd, 0)], {
        axis: -1,
        epsilon: { float: shape.layerNormEpsilon },
      });
    const linear = (x: string, name: string, fanIn: number, fanOut: number) =>
      g.op("Add", [
        g.op("MatMul", [x, weights(`${p}.${name}.weight`, [fanIn, fanOut], 1 / Math.sqrt(fanIn))]),
        weights(`${p}.${name}.bias`, [fanOut], 0.1),
      ]);

    // Attention: q, k, v as [batch, head, seq, head_dim]; new k/v appended to the past.
    const qkv = linear(layerNorm(hidden, "ln_1"), "attn.c_attn", nEmbd, 3 * nEmbd);
    const [q, k, v] = g
      .opMulti("Split", [qkv, splitSizes], { axis: 2 }, 3)
      .map((t) => g.op("Transpose", [g.op("Reshape", [t, toHeads])], { perm: [0, 2, 1, 3] }));
    const presentKey = g.rename(g.op("Concat", [pastNames[layer][0], k], { axis: 2 }), `present.${layer}.key`);
    const presentValue = g.rename(g.op("Concat", [pastNames[layer][1], v], { axis: 2 }), `present.${layer}.value`);
    const scores = g.op("Add", [
      g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [presentKey], { perm: [0, 1, 3, 2] })]), scale]),
      attentionBias,
    ]);
    const context = g.op("MatMul", [g.op("Softmax", [scores], { axis: -1 }), presentValue]);
    const merged = g.op("Reshape", [g.op("Transpose", [context], { perm: [0, 2, 1, 3] }), fromHeads]);
    hidden = g.op("Add", [hidden, linear(merged, "attn.c_proj", nEmbd, nEmbd)]);

    // MLP with exact GELU (0.5·x·(1 + erf(x/√2))), built from Erf since Gelu is opset 20.
    const up = linear(layerNorm(hidden, "ln_2"), "mlp.c_fc", nEmbd, 4 * nEmbd);
    const erf = g.op("Erf", [g.op("Mul", [up, g.scalar(Math.SQRT1_2)])]);
    const gelu = g.op("Mul", [g.op("Mul", [up, g.scalar(0.5)]), g.op("Add", [erf, g.scalar(1)])]);
    hidden = g.op("Add", [hidden, linear(gelu, "mlp.c_proj", 4 * nEmbd, nEmbd)]);
  }

  // Tied LM head: Gemm with transB reads the embedding matrix as is (no transposed copy).
  const final = g.op("LayerNormalization", [hidden, filled("transformer.ln_f.weight", nEmbd, 1), filled("transformer.ln_f.bias", nEmbd, 0)], {
    axis: -1,
    epsilon: { float: shape.layerNormEpsilon },
  });
  const flat = g.op("Reshape", [final, g.ints([-1, nEmbd])]);
  const logits2d = g.op("Gemm", [flat, wte], { transB: 1 });
  const logitsShape = g.op("Concat", [g.op("Shape", [inputIds]), g.ints([vocabSize])], { axis: 0 });
  g.rename(g.op("Reshape", [logits2d, logitsShape]), "logits");

  g.output("logits", "float32", ["batch_size", "sequence_length", vocabSize]);
  for (let layer = 0; layer < nLayer; layer++) {
    const dims = ["batch_size", nHead, "total_sequence_length", headDim];
    g.output(`present.${layer}.key`, "float32", dims);
    g.output(`present.${layer}.value`, "float32", dims);
  }
  return g.toBytes("tiny_gpt2", metadata);
}

/**
 * Additive attention bias [batch, 1, seq, total]: 0 where a query may look at a key, a large
 * negative number elsewhere. A key is visible when it is not after the query (causal, counted
 * with the past length as offset) and its attention_mask entry is 1 (padding is hidden).
 */
function buildAttentionBias(g: OnnxGraph, inputIds: string, attentionMask: string): string {
  const zero = g.int64Tensor("bias_zero", [0], []);
  const one = g.int64Tensor("bias_one", [1], []);
  const total = g.op("Gather", [g.op("Shape", [attentionMask]), one]);
  const seq = g.op("Gather", [g.op("Shape", [inputIds]), one]);
  const past = g.op("Sub", [total, seq]);
  const keyPositions = g.op("Unsqueeze", [g.op("Range", [zero, total, one]), g.ints([0])]); // [1, total]
  const queryPositions = g.op("Unsqueeze", [g.op("Range", [past, total, one]), g.ints([1])]); // [seq, 1]
  const causal = g.op("LessOrEqual", [keyPositions, queryPositions]); // [seq, total]
  const notPadding = g.op("Unsqueeze", [g.op("Cast", [attentionMask], { to: 9 }), g.ints([1, 2])]); // [batch, 1, 1, total]
  const visible = g.op("And", [causal, notPadding]); // [batch, 1, seq, total]
  return g.op("Where", [visible, g.scalar(0), g.scalar(-1e9)]);
}
