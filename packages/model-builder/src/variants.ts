/**
 * The other graphs of a transformers.js-style folder, written from the fp32 graph the way
 * Hugging Face's tools rewrite one (onnxruntime's quantizers, onnxconverter's float16), so the
 * pipeline can be tested on each kind of file without downloading real models:
 *
 * | variant | file | what changes |
 * | --- | --- | --- |
 * | fp16 | model_fp16.onnx | weights stored as float16; float16 `past_key_values.*`, `present.*` and `logits` |
 * | q8 | model_quantized.onnx | every MatMul by a weight → DynamicQuantizeLinear + MatMulInteger (int8 weights, per tensor) |
 * | uint8 | model_uint8.onnx | the same with uint8 weights (asymmetric, with a zero point) |
 * | q4 | model_q4.onnx | every MatMul by a weight → com.microsoft MatMulNBits (4 bits, blocks of 32) |
 * | q4f16 | model_q4f16.onnx | q4, then fp16's storage and inputs/outputs |
 *
 * One simplification: fp16 here stores and exchanges float16 but computes in float32 (a Cast after
 * each weight and input, before each output), where a real fp16 export computes in float16. What
 * the pipeline sees (tensor types, cache layout, value ranges) is the same.
 */
import onnxProto from "onnx-proto";
import { readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { floatToHalf } from "./float16.js";
import type { BuildDtype } from "./specs.js";

const { onnx } = onnxProto;
const DT = onnx.TensorProto.DataType;
type Model = onnxProto.onnx.IModelProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type NodeProto = onnxProto.onnx.INodeProto;

export type Variant = Exclude<BuildDtype, "fp32">;

export const VARIANT_FILES: Record<Variant, string> = {
  fp16: "model_fp16.onnx",
  q8: "model_quantized.onnx",
  uint8: "model_uint8.onnx",
  q4: "model_q4.onnx",
  q4f16: "model_q4f16.onnx",
};

/** Every dtype's file in onnx/, as transformers.js names them. */
export const DTYPE_FILES: Record<BuildDtype, string> = { fp32: "model.onnx", ...VARIANT_FILES };

/** Rewrites `model` (in place) into `variant`. */
export function applyVariant(model: Model, variant: Variant): Model {
  if (variant === "q8") quantizeDynamic(model, "int8");
  if (variant === "uint8") quantizeDynamic(model, "uint8");
  if (variant === "q4" || variant === "q4f16") quantize4Bit(model, 32);
  if (variant === "fp16" || variant === "q4f16") toFloat16(model);
  return model;
}

let counter = 0;
const node = (opType: string, input: string[], output: string[], attribute: onnxProto.onnx.IAttributeProto[] = [], domain?: string): NodeProto => ({
  name: `${opType}_v${counter++}`,
  opType,
  input,
  output,
  attribute,
  ...(domain ? { domain } : {}),
});
const intAttribute = (name: string, i: number) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });

function floatsOf(tensor: TensorProto): Float32Array {
  return new Float32Array(Uint8Array.from(tensor.rawData!).buffer);
}

function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function elements(tensor: TensorProto): number {
  return (tensor.dims ?? []).reduce((a: number, b) => a * Number(b), 1);
}

/** MatMul nodes whose second input is a 2-D float initializer (a weight), with that initializer. */
function weightMatMuls(model: Model): { index: number; weight: TensorProto }[] {
  const graph = model.graph!;
  const initializers = new Map(graph.initializer!.map((t) => [t.name!, t]));
  const found: { index: number; weight: TensorProto }[] = [];
  graph.node!.forEach((n, index) => {
    const weight = n.opType === "MatMul" ? initializers.get(n.input![1]) : undefined;
    if (weight && weight.dataType === DT.FLOAT && weight.dims!.length === 2) found.push({ index, weight });
  });
  return found;
}

function dropUnused(model: Model): void {
  const graph = model.graph!;
  const used = new Set(graph.node!.flatMap((n) => n.input!));
  graph.initializer = graph.initializer!.filter((t) => used.has(t.name!));
}

/** onnxruntime's quantize_dynamic: weights quantized per tensor, activations per run. */
function quantizeDynamic(model: Model, weightType: "int8" | "uint8"): void {
  const graph = model.graph!;
  const nodes = graph.node!;
  for (const { index, weight } of weightMatMuls(model).reverse()) {
    const w = floatsOf(weight);
    const name = weight.name!;
    let scale: number;
    let zero: number;
    let quantized: Int8Array | Uint8Array;
    if (weightType === "int8") {
      scale = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127 || 1;
      zero = 0;
      quantized = Int8Array.from(w, (v) => Math.max(-127, Math.min(127, Math.round(v / scale))));
    } else {
      const min = w.reduce((m, v) => Math.min(m, v), 0);
      const max = w.reduce((m, v) => Math.max(m, v), 0);
      scale = (max - min) / 255 || 1;
      zero = Math.max(0, Math.min(255, Math.round(-min / scale)));
      quantized = Uint8Array.from(w, (v) => Math.max(0, Math.min(255, Math.round(v / scale) + zero)));
    }
    const type = weightType === "int8" ? DT.INT8 : DT.UINT8;
    graph.initializer!.push(
      { name: `${name}_quantized`, dims: weight.dims, dataType: type, rawData: bytesOf(quantized) },
      { name: `${name}_scale`, dims: [], dataType: DT.FLOAT, rawData: bytesOf(Float32Array.of(scale)) },
      { name: `${name}_zero_point`, dims: [], dataType: type, rawData: bytesOf(weightType === "int8" ? Int8Array.of(zero) : Uint8Array.of(zero)) },
    );
    const original = nodes[index];
    const [x] = original.input!;
    const [y] = original.output!;
    const p = `${original.name}_q`;
    nodes.splice(
      index,
      1,
      node("DynamicQuantizeLinear", [x], [`${p}_x`, `${p}_x_scale`, `${p}_x_zero_point`]),
      node("MatMulInteger", [`${p}_x`, `${name}_quantized`, `${p}_x_zero_point`, `${name}_zero_point`], [`${p}_int32`]),
      node("Cast", [`${p}_int32`], [`${p}_float`], [intAttribute("to", DT.FLOAT)]),
      node("Mul", [`${p}_x_scale`, `${name}_scale`], [`${p}_scale`]),
      node("Mul", [`${p}_float`, `${p}_scale`], [y]),
    );
  }
  dropUnused(model);
}

/**
 * onnxruntime's MatMulNBits (what transformers.js's q4 files use): B [K, N] stored transposed as
 * [N, blocks, blockSize / 2] bytes, two 4-bit values a byte (low nibble first), one float scale per
 * block, no zero points (the op's default, 8: symmetric).
 */
function quantize4Bit(model: Model, blockSize: number): void {
  const graph = model.graph!;
  const nodes = graph.node!;
  for (const { index, weight } of weightMatMuls(model)) {
    const w = floatsOf(weight);
    const [K, N] = weight.dims!.map(Number);
    const blocks = Math.ceil(K / blockSize);
    const blob = blockSize / 2;
    const packed = new Uint8Array(N * blocks * blob);
    const scales = new Float32Array(N * blocks);
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < blocks; b++) {
        let max = 0;
        for (let j = 0; j < blockSize && b * blockSize + j < K; j++) max = Math.max(max, Math.abs(w[(b * blockSize + j) * N + n]));
        const scale = max / 7 || 1;
        scales[n * blocks + b] = scale;
        for (let j = 0; j < blockSize; j++) {
          const k = b * blockSize + j;
          const q = k < K ? Math.max(0, Math.min(15, Math.round(w[k * N + n] / scale) + 8)) : 8;
          packed[(n * blocks + b) * blob + (j >> 1)] |= j & 1 ? q << 4 : q;
        }
      }
    }
    const name = weight.name!;
    graph.initializer!.push(
      { name: `${name}_Q4`, dims: [N, blocks, blob], dataType: DT.UINT8, rawData: packed },
      { name: `${name}_scales`, dims: [N * blocks], dataType: DT.FLOAT, rawData: bytesOf(scales) },
    );
    const original = nodes[index];
    nodes[index] = node(
      "MatMulNBits",
      [original.input![0], `${name}_Q4`, `${name}_scales`],
      original.output!,
      [intAttribute("K", K), intAttribute("N", N), intAttribute("bits", 4), intAttribute("block_size", blockSize)],
      "com.microsoft",
    );
  }
  dropUnused(model);
  model.opsetImport = [...model.opsetImport!, { domain: "com.microsoft", version: 1 }];
}

/** float16 storage for float weights (≥ 64 values) and float16 graph inputs/outputs; float32 inside. */
function toFloat16(model: Model): void {
  const graph = model.graph!;
  const nodes = graph.node!;
  const front: NodeProto[] = [];
  const back: NodeProto[] = [];
  const cast = (input: string, output: string, to: number) => node("Cast", [input], [output], [intAttribute("to", to)]);
  for (const tensor of graph.initializer!) {
    if (tensor.dataType !== DT.FLOAT || elements(tensor) < 64) continue;
    const name = tensor.name!;
    tensor.rawData = bytesOf(floatToHalf(floatsOf(tensor)));
    tensor.dataType = DT.FLOAT16;
    tensor.name = `${name}_fp16`;
    front.push(cast(tensor.name, name, DT.FLOAT));
  }
  for (const input of graph.input!) {
    if (input.type!.tensorType!.elemType !== DT.FLOAT) continue;
    const name = input.name!;
    const inner = `${name}_float32`;
    for (const n of nodes) n.input = n.input!.map((x) => (x === name ? inner : x));
    front.push(cast(name, inner, DT.FLOAT));
    input.type!.tensorType!.elemType = DT.FLOAT16;
  }
  for (const output of graph.output!) {
    if (output.type!.tensorType!.elemType !== DT.FLOAT) continue;
    const name = output.name!;
    const inner = `${name}_float32`;
    for (const n of nodes) {
      n.input = n.input!.map((x) => (x === name ? inner : x));
      n.output = n.output!.map((x) => (x === name ? inner : x));
    }
    back.push(cast(inner, name, DT.FLOAT16));
    output.type!.tensorType!.elemType = DT.FLOAT16;
  }
  graph.node = [...front, ...nodes, ...back];
}

/**
 * Rewrites the graph at `onnxPath` with its large initializers (≥ 1024 bytes) moved into
 * `<file>_data` beside it (ONNX external data, as exports of models over 2 GB must be):
 * for tests that a folder with `model.onnx_data` loads.
 */
export function moveWeightsToExternalData(onnxPath: string): void {
  const model = onnx.ModelProto.decode(readFileSync(onnxPath));
  const dataFile = `${basename(onnxPath)}_data`;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const tensor of model.graph!.initializer!) {
    const raw = tensor.rawData;
    if (!raw || raw.length < 1024) continue;
    tensor.externalData = [
      { key: "location", value: dataFile },
      { key: "offset", value: String(offset) },
      { key: "length", value: String(raw.length) },
    ];
    tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    tensor.rawData = new Uint8Array(0);
    chunks.push(Uint8Array.from(raw));
    offset += raw.length;
  }
  writeFileSync(join(dirname(onnxPath), dataFile), Buffer.concat(chunks));
  writeFileSync(onnxPath, onnx.ModelProto.encode(model).finish());
}
