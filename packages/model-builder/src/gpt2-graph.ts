/**
 * A GPT-2-shaped causal LM with a key/value cache, written with standard ONNX ops only (opset 17),
 * so onnxruntime (any language binding) or transformers.js runs it. Inputs and outputs follow the
 * Hugging Face export layout (optimum / transformers.js).
 */
import type onnxProto from "onnx-proto";
import { encodeModel, OnnxGraph } from "./onnx-graph.js";
import { createNormal, createRandom } from "./random.js";
import { addBusyWork, attend, attentionBias, causalLmInputs, causalLmOutputs, filled, weightFactory } from "./graph-parts.js";
import { copySuccessors } from "./copy-successors.js";
import type { Gpt2Spec } from "./specs.js";

/** Builds the graph and returns the serialised ONNX model. */
export function buildGpt2Onnx(spec: Gpt2Spec, metadata: Record<string, string>): Uint8Array {
  return encodeModel(buildGpt2Model(spec, metadata));
}

/** The model as a protobuf object (for variants.ts to rewrite before encoding). */
export function buildGpt2Model(spec: Gpt2Spec, metadata: Record<string, string>): onnxProto.onnx.IModelProto {
  const g = new OnnxGraph();
  const { layers, heads, hidden, vocabSize } = spec;
  const headDim = hidden / heads;
  // Weight scales: embeddings large enough that logits are spread out (sampling has something to
  // choose between), blocks at ~1/sqrt(fan_in) so each layer changes the residual stream enough
  // that the greedy continuation depends on the prompt instead of echoing the last token.
  const weights = weightFactory(g, createNormal(createRandom(spec.seed)));

  const { inputIds, attentionMask, positionIds, past: pastNames } = causalLmInputs(g, layers, heads, headDim);

  const wte = weights("transformer.wte.weight", [vocabSize, hidden], 0.5);
  // Copy-friendly (spec.copyCycle): no position signal and blocks that add nothing, so the stream
  // is the embedding of the last token's successor and the tied head picks that successor.
  const copy = spec.copyCycle !== undefined;
  const wpe = weights("transformer.wpe.weight", [spec.positions, hidden], copy ? 0 : 0.5);
  // The token embedding goes through a fixed random mixing matrix before entering the residual
  // stream. With a tied LM head, an unmixed embedding makes each token predict itself and greedy
  // decoding repeats one token forever; mixed, the next token is a pseudo-random function of the
  // context, so greedy text varies with the prompt (and is meaningless, as intended).
  const mix = copy ? g.floatTensor("transformer.wte_identity", identity(hidden), [hidden, hidden]) : weights("transformer.wte_mix.weight", [hidden, hidden], 1 / Math.sqrt(hidden));
  const embedded = copy ? g.op("Gather", [g.int64Tensor("transformer.copy_successor", copySuccessors(vocabSize, spec.copyCycle!), [vocabSize]), inputIds]) : inputIds;
  const tokenEmbedding = g.op("MatMul", [g.op("Gather", [wte, embedded]), mix]);
  let stream = g.op("Add", [tokenEmbedding, g.op("Gather", [wpe, positionIds])]);

  const bias = attentionBias(g, inputIds, attentionMask);
  const toHeads = g.ints([0, 0, heads, headDim]); // Reshape's 0 copies batch and sequence dims
  const splitSizes = g.ints([hidden, hidden, hidden]);

  for (let layer = 0; layer < layers; layer++) {
    const p = `transformer.h.${layer}`;
    const layerNorm = (x: string, name: string) =>
      g.op("LayerNormalization", [x, filled(g, `${p}.${name}.weight`, hidden, 1), filled(g, `${p}.${name}.bias`, hidden, 0)], {
        axis: -1,
        epsilon: { float: spec.layerNormEpsilon },
      });
    const linear = (x: string, name: string, fanIn: number, fanOut: number, scale = 1) =>
      g.op("Add", [
        g.op("MatMul", [x, weights(`${p}.${name}.weight`, [fanIn, fanOut], scale / Math.sqrt(fanIn))]),
        weights(`${p}.${name}.bias`, [fanOut], scale * 0.1),
      ]);
    const outScale = copy ? 0 : 1;

    // Attention: q, k, v as [batch, head, seq, head_dim]; new k/v appended to the past.
    const qkv = linear(layerNorm(stream, "ln_1"), "attn.c_attn", hidden, 3 * hidden);
    const [q, k, v] = g
      .opMulti("Split", [qkv, splitSizes], { axis: 2 }, 3)
      .map((t) => g.op("Transpose", [g.op("Reshape", [t, toHeads])], { perm: [0, 2, 1, 3] }));
    const presentKey = g.rename(g.op("Concat", [pastNames[layer][0], k], { axis: 2 }), `present.${layer}.key`);
    const presentValue = g.rename(g.op("Concat", [pastNames[layer][1], v], { axis: 2 }), `present.${layer}.value`);
    const merged = attend(g, q, presentKey, presentValue, bias, headDim, hidden);
    stream = g.op("Add", [stream, linear(merged, "attn.c_proj", hidden, hidden, outScale)]);

    // MLP with exact GELU (0.5·x·(1 + erf(x/√2))), built from Erf since Gelu is opset 20.
    const up = linear(layerNorm(stream, "ln_2"), "mlp.c_fc", hidden, 4 * hidden);
    const erf = g.op("Erf", [g.op("Mul", [up, g.scalar(Math.SQRT1_2)])]);
    const gelu = g.op("Mul", [g.op("Mul", [up, g.scalar(0.5)]), g.op("Add", [erf, g.scalar(1)])]);
    stream = g.op("Add", [stream, linear(gelu, "mlp.c_proj", 4 * hidden, hidden, outScale)]);
  }

  // Tied LM head: Gemm with transB reads the embedding matrix as is (no transposed copy).
  const final = g.op("LayerNormalization", [stream, filled(g, "transformer.ln_f.weight", hidden, 1), filled(g, "transformer.ln_f.bias", hidden, 0)], {
    axis: -1,
    epsilon: { float: spec.layerNormEpsilon },
  });
  const flat = g.op("Reshape", [final, g.ints([-1, hidden])]);
  const logits2d = g.op("Gemm", [flat, wte], { transB: 1 });
  const logitsShape = g.op("Concat", [g.op("Shape", [inputIds]), g.ints([vocabSize])], { axis: 0 });
  let logits = g.op("Reshape", [logits2d, logitsShape]);
  if (spec.busyWorkMatMuls) logits = addBusyWork(g, inputIds, logits, spec.busyWorkMatMuls, weights);
  g.rename(logits, "logits");

  causalLmOutputs(g, layers, heads, headDim, vocabSize);
  return g.toModel("gpt2", metadata);
}

function identity(size: number): Float32Array {
  const data = new Float32Array(size * size);
  for (let i = 0; i < size; i++) data[i * size + i] = 1;
  return data;
}
