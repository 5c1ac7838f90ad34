/**
 * What a causal-LM graph takes and returns, read from the session's input/output names and
 * metadata (and config.json only where the graph leaves a dimension symbolic), so that models
 * exported by other tools load without assumptions about optional inputs or layer counts.
 */
import type { InferenceSession, Tensor } from "onnxruntime-node";

export interface CachePair {
  /** Graph input that takes the cache, e.g. `past_key_values.0.key`. */
  pastInput: string;
  /** Graph output that returns it grown by the new tokens, e.g. `present.0.key`. */
  presentOutput: string;
  /** Element type of the cache tensor (float32, or float16 for fp16 exports). */
  type: Tensor.Type;
  /** Fixed dims of an empty cache except the sequence axis, which is 0. */
  emptyDims: number[];
}

export interface ModelSignature {
  hasAttentionMask: boolean;
  hasPositionIds: boolean;
  /**
   * transformers.js-era exports take `num_logits_to_keep` (int64 scalar): logits for that many last
   * positions (0 = all). The pipeline feeds 1: logits are only read after a row's last token.
   */
  hasNumLogitsToKeep: boolean;
  /** optimum's merged decoder takes a bool saying whether past_key_values are real. */
  hasUseCacheBranch: boolean;
  cache: CachePair[];
  layers: number;
  vocabSize: number;
}

const PAST = /^past_key_values\.(\d+)\.(key|value)$/;

/** Throws an Error whose message says what is wrong; the caller adds the file name. */
export function readSignature(session: InferenceSession, config: Record<string, any>): ModelSignature {
  const inputs = new Set(session.inputNames);
  const outputs = new Set(session.outputNames);
  if (!inputs.has("input_ids")) throw new Error(`graph has no "input_ids" input (inputs: ${session.inputNames.join(", ")})`);
  if (!outputs.has("logits")) throw new Error(`graph has no "logits" output (outputs: ${session.outputNames.join(", ")})`);

  const logits = metadataOf(session.outputMetadata, "logits");
  if (logits && logits.type !== "float32" && logits.type !== "float16") throw new Error(`"logits" is ${logits.type}; only float32 and float16 logits are supported`);
  const logitsVocab = logits?.shape.at(-1);
  const vocabSize = typeof logitsVocab === "number" ? logitsVocab : Number(config.vocab_size);
  if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new Error("vocabulary size unknown (logits dim symbolic and no vocab_size in config.json)");

  const cache: CachePair[] = [];
  for (const name of session.inputNames) {
    const match = PAST.exec(name);
    if (!match) continue;
    const present = `present.${match[1]}.${match[2]}`;
    if (!outputs.has(present)) throw new Error(`input "${name}" has no matching output "${present}"`);
    const meta = metadataOf(session.inputMetadata, name);
    cache.push({ pastInput: name, presentOutput: present, type: meta?.type ?? "float32", emptyDims: emptyCacheDims(meta?.shape, config) });
  }
  const layers = new Set(cache.map((pair) => pair.pastInput.split(".")[1])).size;
  return {
    hasAttentionMask: inputs.has("attention_mask"),
    hasPositionIds: inputs.has("position_ids"),
    hasUseCacheBranch: inputs.has("use_cache_branch"),
    hasNumLogitsToKeep: inputs.has("num_logits_to_keep"),
    cache,
    layers: cache.length > 0 ? layers : Number(config.n_layer ?? config.num_hidden_layers ?? 0),
    vocabSize,
  };
}

interface TensorMetadata {
  type: Tensor.Type;
  shape: readonly (number | string)[];
}

function metadataOf(list: readonly InferenceSession.ValueMetadata[], name: string): TensorMetadata | undefined {
  const found = list.find((m) => m.name === name);
  if (!found || !found.isTensor) return undefined;
  return { type: found.type, shape: found.shape };
}

/**
 * An empty cache is [batch=1, heads, 0, head_dim]. Heads and head_dim come from the graph when it
 * fixes them, else from config.json (num_key_value_heads for grouped-query attention).
 */
function emptyCacheDims(shape: readonly (number | string)[] | undefined, config: Record<string, any>): number[] {
  const heads = Number(config.num_key_value_heads ?? config.n_head ?? config.num_attention_heads);
  const hidden = Number(config.n_embd ?? config.hidden_size);
  const headDim = Number(config.head_dim ?? hidden / Number(config.n_head ?? config.num_attention_heads));
  const dims = shape && shape.length === 4 ? shape : ["batch_size", heads, "past_sequence_length", headDim];
  if (dims.length !== 4) throw new Error("past key/value inputs must be 4-D [batch, heads, past_sequence, head_dim]");
  const resolved = [1, fixed(dims[1], heads, "heads"), 0, fixed(dims[3], headDim, "head_dim")];
  return resolved;
}

function fixed(dim: number | string, fallback: number, what: string): number {
  if (typeof dim === "number") return dim;
  if (!Number.isInteger(fallback) || fallback < 1) throw new Error(`cannot tell the cache's ${what}: symbolic in the graph and not in config.json`);
  return fallback;
}
