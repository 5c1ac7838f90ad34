/**
 * One model ready to run: its ONNX Runtime session, tokenizer and the facts the pipeline needs
 * (cache layout, context length, end-of-sequence ids), each failure tied to the file at fault.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { InferenceSession, Tensor } from "onnxruntime-node";
import type { ModelInfo } from "@modelnode/core/pipeline";
import type { SamplingDefaults } from "../messages/sampling.js";
import { ChatTemplate } from "../shared/chat-template.js";
import type { PipelineLogger } from "../shared/logger.js";
import { ModelLoadError, readModelFiles, type ModelDtype } from "../shared/model-files.js";
import { sessionOptionsFor } from "../shared/session-options.js";
import { buildTokenizer, type TextTokenizer } from "../shared/text-tokenizer.js";
import { readSignature, type ModelSignature } from "./model-signature.js";

export interface LoadedModel {
  id: string;
  dir: string;
  session: InferenceSession;
  tokenizer: TextTokenizer;
  /** Renders chats: the model's own template, or the fallback (see shared/chat-template.ts). */
  chatTemplate: ChatTemplate;
  signature: ModelSignature;
  contextLength: number;
  eosTokenIds: ReadonlySet<number>;
  /** Fed when a prompt encodes to no tokens at all (GPT-2 adds no BOS of its own). */
  bosTokenId: number | undefined;
  /** Cache bytes one token adds (all layers, keys and values), for accounting and limits. */
  cacheBytesPerToken: number;
  /** Bytes of the graph file and its external data: roughly what one run reads of weights. */
  weightBytes: number;
  /**
   * Whether a run feeding `rows` × `columns` new tokens should compute logits for the last
   * column alone, in a run of its own (see logitsSplit below).
   */
  splitLastColumn(rows: number, columns: number): boolean;
  /** Empty past tensors for the first run; shared, never written. */
  emptyCache: Record<string, Tensor>;
  info: ModelInfo;
  /** Which of the folder's graphs was loaded. */
  dtype: ModelDtype;
  /**
   * Sampling defaults from generation_config.json (only when it sets do_sample: true, as Hugging
   * Face's generate() ignores temperature / top_p / top_k otherwise): for requests that give none.
   */
  samplingDefaults: SamplingDefaults;
}

export interface LoadModelSettings {
  /** Which graph of the folder (see shared/model-files.ts); default fp32 or the only one. */
  dtype?: ModelDtype;
  threads: number;
  spinning: boolean;
  sessionOptions: InferenceSession.SessionOptions;
  logger: PipelineLogger;
}

export async function loadModel(id: string, dir: string, settings: LoadModelSettings): Promise<LoadedModel> {
  const started = performance.now();
  const files = readModelFiles(id, dir, settings.dtype);
  const fail = (file: string, reason: string) => new ModelLoadError(id, file, reason);

  // Decoding only: prompts are encoded on the tokenizer thread (see TextTokenizer.decodeOnly).
  const tokenizer = buildTokenizer(id, dir, files, { decodeOnly: true });
  const chatTemplate = ChatTemplate.load(id, dir, files.tokenizerConfig);

  let session: InferenceSession;
  try {
    session = await InferenceSession.create(files.onnxPath, sessionOptionsFor(settings.threads, settings.spinning, settings.sessionOptions));
  } catch (error) {
    throw fail(files.onnxPath, `ONNX Runtime cannot load it (${firstLine(error)})`);
  }

  let signature: ModelSignature;
  const emptyCache: Record<string, Tensor> = {};
  let cacheBytesPerToken = 0;
  try {
    signature = readSignature(session, files.config);
    for (const pair of signature.cache) {
      emptyCache[pair.pastInput] = new Tensor(pair.type, emptyData(pair.type), pair.emptyDims);
      cacheBytesPerToken += pair.emptyDims[1] * pair.emptyDims[3] * (pair.type === "float16" ? 2 : 4);
    }
  } catch (error) {
    await session.release();
    throw fail(files.onnxPath, (error as Error).message);
  }

  const contextLength = contextLengthOf(files.config, files.tokenizerConfig);
  if (contextLength === undefined) {
    await session.release();
    throw fail(join(dir, "config.json"), "no context length (n_positions / max_position_embeddings)");
  }
  const eosTokenIds = new Set(idList(files.generationConfig.eos_token_id ?? files.config.eos_token_id));
  const bosTokenId = idList(files.generationConfig.bos_token_id ?? files.config.bos_token_id)[0];
  const modelType: unknown = files.config.model_type;
  const architecture = typeof modelType === "string" && modelType.length > 0 ? modelType : undefined;
  const info: ModelInfo = {
    id,
    contextLength,
    vocabSize: signature.vocabSize,
    description: `${architecture ?? "unknown"}${files.dtype !== "fp32" ? `, ${files.dtype}` : ""}, ${signature.layers} layers, ${signature.cache.length > 0 ? "KV cache" : "no KV cache"}`,
    eosTokenIds: [...eosTokenIds],
    ...(bosTokenId !== undefined ? { bosTokenId } : {}),
    ...(architecture !== undefined ? { architecture } : {}),
    hasChatTemplate: chatTemplate.own,
    toolCallFormat: chatTemplate.toolFormat,
  };
  settings.logger.info(
    {
      model: id,
      dir,
      onnx: files.onnxPath,
      dtype: files.dtype,
      loadMs: Math.round(performance.now() - started),
      architecture: architecture ?? "unknown",
      layers: signature.layers,
      contextLength,
      vocabSize: signature.vocabSize,
      kvCache: signature.cache.length > 0,
      positionIds: signature.hasPositionIds,
      batching: signature.hasAttentionMask && signature.hasPositionIds && signature.cache.length > 0,
      threads: settings.threads,
      chatTemplate: chatTemplate.own ? "own" : "fallback",
    },
    "model loaded",
  );
  const weightBytes = [files.onnxPath, `${files.onnxPath}_data`, `${files.onnxPath}.data`].reduce((sum, file) => sum + (existsSync(file) ? statSync(file).size : 0), 0);
  // With num_logits_to_keep the graph returns the last position's logits alone: never split.
  const splitLastColumn = signature.hasNumLogitsToKeep ? () => false : logitsSplit(weightBytes, signature.vocabSize, Number(files.config.n_embd ?? files.config.hidden_size));
  return { id, dir, session, tokenizer, chatTemplate, signature, contextLength, eosTokenIds, bosTokenId, cacheBytesPerToken, weightBytes, splitLastColumn, emptyCache, info, dtype: files.dtype, samplingDefaults: samplingDefaultsOf(files.generationConfig) };
}

/** generation_config.json's temperature / top_p / top_k, when it samples (do_sample: true) and the values are valid. */
export function samplingDefaultsOf(generationConfig: Record<string, any>): SamplingDefaults {
  if (generationConfig.do_sample !== true) return {};
  const { temperature, top_p: topP, top_k: topK } = generationConfig;
  return {
    ...(Number.isFinite(temperature) && temperature >= 0 ? { temperature } : {}),
    ...(Number.isFinite(topP) && topP > 0 && topP <= 1 ? { topP } : {}),
    ...(Number.isInteger(topK) && topK >= 0 ? { topK } : {}),
  };
}

/**
 * A graph computes logits for every position it is fed, and onnxruntime-node copies them all out
 * (a 500-token prompt of GPT-2's vocabulary: 100 MB). Splitting off the last column costs one
 * more run instead, i.e. one more pass over the weights. Split when the logits of the other
 * positions cost more than that pass: (positions × vocab × hidden × 2 FLOPs) against the weight
 * bytes at ~8 FLOPs per byte (a CPU's compute-to-bandwidth balance); never below 16 positions
 * (below that, the copy is small either way). GPT-2 small: from ~52 positions; the tiny model:
 * from ~22.
 */
function logitsSplit(weightBytes: number, vocabSize: number, hidden: number): (rows: number, columns: number) => boolean {
  const flopsPerPosition = 2 * vocabSize * (Number.isFinite(hidden) && hidden > 0 ? hidden : 1);
  const positions = Math.max(16, Math.ceil((8 * weightBytes) / flopsPerPosition));
  return (rows, columns) => columns >= 2 && rows * (columns - 1) >= positions;
}

function contextLengthOf(config: Record<string, any>, tokenizerConfig: Record<string, any>): number | undefined {
  const candidates = [config.n_positions, config.max_position_embeddings, config.n_ctx, tokenizerConfig.model_max_length];
  // tokenizer_config's model_max_length is a huge sentinel (1e30) when unset; ignore such values.
  return candidates.find((v) => Number.isInteger(v) && v > 0 && v < 10_000_000);
}

function idList(value: unknown): number[] {
  const list = Array.isArray(value) ? value : [value];
  return list.filter((v): v is number => Number.isInteger(v) && v >= 0);
}

function emptyData(type: Tensor.Type): Tensor.DataType {
  if (type === "float16") return new Uint16Array(0);
  if (type === "float32") return new Float32Array(0);
  throw new Error(`unsupported cache element type ${type}`);
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0];
}
