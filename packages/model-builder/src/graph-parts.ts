/**
 * Pieces both graph builders use: seeded weight tensors, the attention bias (causal + padding),
 * cached attention over past keys/values, and the optional busy work that makes a model slow.
 */
import type { OnnxGraph } from "./onnx-graph.js";

export interface CausalLmInputs {
  inputIds: string;
  attentionMask: string;
  positionIds: string;
  /** [key, value] input per layer. */
  past: [string, string][];
}

/**
 * The Hugging Face causal-LM inputs (input_ids, attention_mask, position_ids, past_key_values.N.*
 * of [batch, kvHeads, past_sequence_length, headDim]), with the dynamic dims named as exports name them.
 */
export function causalLmInputs(g: OnnxGraph, layers: number, kvHeads: number, headDim: number): CausalLmInputs {
  const past: [string, string][] = [];
  const inputIds = g.input("input_ids", "int64", ["batch_size", "sequence_length"]);
  const attentionMask = g.input("attention_mask", "int64", ["batch_size", "total_sequence_length"]);
  const positionIds = g.input("position_ids", "int64", ["batch_size", "sequence_length"]);
  for (let layer = 0; layer < layers; layer++) {
    const dims = ["batch_size", kvHeads, "past_sequence_length", headDim];
    past.push([g.input(`past_key_values.${layer}.key`, "float32", dims), g.input(`past_key_values.${layer}.value`, "float32", dims)]);
  }
  return { inputIds, attentionMask, positionIds, past };
}

/** The outputs: logits [batch, sequence_length, vocab] and present.N.* (the past grown by the new tokens). */
export function causalLmOutputs(g: OnnxGraph, layers: number, kvHeads: number, headDim: number, vocabSize: number): void {
  g.output("logits", "float32", ["batch_size", "sequence_length", vocabSize]);
  for (let layer = 0; layer < layers; layer++) {
    const dims = ["batch_size", kvHeads, "total_sequence_length", headDim];
    g.output(`present.${layer}.key`, "float32", dims);
    g.output(`present.${layer}.value`, "float32", dims);
  }
}

/** Float initializers filled with seeded normal samples times `std`. */
export function weightFactory(g: OnnxGraph, normal: () => number) {
  return (name: string, dims: number[], std: number): string => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = normal() * std;
    return g.floatTensor(name, data, dims);
  };
}

/** A 1-D float initializer of `length` copies of `value` (norm weights and biases). */
export function filled(g: OnnxGraph, name: string, length: number, value: number): string {
  return g.floatTensor(name, new Float32Array(length).fill(value), [length]);
}

/**
 * Additive attention bias [batch, 1, seq, total]: 0 where a query may look at a key, a large
 * negative number elsewhere. A key is visible when it is not after the query (causal, counted
 * with the past length as offset) and its attention_mask entry is 1 (padding is hidden, wherever
 * it sits: left of a row, or between its past and its new tokens).
 */
export function attentionBias(g: OnnxGraph, inputIds: string, attentionMask: string): string {
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

/**
 * softmax(q·kᵀ/√d + bias)·v for q [batch, heads, seq, d] and keys/values [batch, heads, total, d];
 * returns [batch, seq, heads·d].
 */
export function attend(g: OnnxGraph, q: string, keys: string, values: string, bias: string, headDim: number, width: number): string {
  const scores = g.op("Add", [
    g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [keys], { perm: [0, 1, 3, 2] })]), g.scalar(1 / Math.sqrt(headDim))]),
    bias,
  ]);
  const context = g.op("MatMul", [g.op("Softmax", [scores], { axis: -1 }), values]);
  return g.op("Reshape", [g.op("Transpose", [context], { perm: [0, 2, 1, 3] }), g.ints([0, 0, width])]);
}

/**
 * `count` products of a 512 × 512 matrix that depends on the input (so no optimizer can fold them
 * away), squashed by tanh to stay finite, summed and multiplied by zero: a term that adds nothing
 * to `logits` but costs real CPU time on every run.
 */
export function addBusyWork(g: OnnxGraph, inputIds: string, logits: string, count: number, weight: (name: string, dims: number[], std: number) => string): string {
  const size = 512;
  const fromInput = g.op("Mul", [g.op("ReduceSum", [g.op("Cast", [inputIds], { to: 1 })], { keepdims: 0 }), g.scalar(0)]);
  let matrix = g.op("Add", [weight("busy.start", [size, size], 1), fromInput]);
  const factor = weight("busy.factor", [size, size], 1 / Math.sqrt(size));
  for (let i = 0; i < count; i++) matrix = g.op("Tanh", [g.op("MatMul", [matrix, factor])]);
  const nothing = g.op("Mul", [g.op("ReduceSum", [matrix], { keepdims: 0 }), g.scalar(0)]);
  return g.op("Add", [logits, nothing]);
}
