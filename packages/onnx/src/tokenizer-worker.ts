/**
 * The tokenizer thread's entry point (a `worker_threads` Worker started by TokenizerThread on the
 * first tokenize / countTokens / detokenize call). Each model's tokenizer is built on first use,
 * exactly as the engine builds it; a request's failure is sent back as data, never thrown.
 */
import { parentPort, workerData } from "node:worker_threads";
import { errors } from "@modelnode/core/pipeline";
import { readTokenizerFiles } from "./model-files.js";
import { serializeError } from "./engine/protocol.js";
import { tokenPieces } from "./text-stream.js";
import { buildTokenizer, promptTokenIds, type TextTokenizer } from "./tokenizer.js";
import type { TokenizerModel, TokenizerReply, TokenizerRequest, TokenizerResult } from "./tokenizer-thread.js";

const port = parentPort!;
const { models } = workerData as { models: Record<string, TokenizerModel> };
const tokenizers = new Map<string, TextTokenizer>();

function tokenizerOf(modelId: string): TextTokenizer {
  let tokenizer = tokenizers.get(modelId);
  if (!tokenizer) {
    const model = models[modelId];
    if (!model) throw errors.modelNotFound(modelId, Object.keys(models));
    tokenizer = buildTokenizer(modelId, model.dir, readTokenizerFiles(modelId, model.dir));
    tokenizers.set(modelId, tokenizer);
  }
  return tokenizer;
}

function answer(request: TokenizerRequest): TokenizerResult {
  const tokenizer = tokenizerOf(request.modelId);
  if (request.op === "detokenize") return tokenizer.decode(request.ids);
  const ids = promptTokenIds(tokenizer, request.text, models[request.modelId].bosTokenId);
  return request.op === "count" ? ids.length : { ids, tokens: tokenPieces(tokenizer, ids) };
}

port.on("message", (request: TokenizerRequest) => {
  let reply: TokenizerReply;
  try {
    reply = { id: request.id, result: answer(request) };
  } catch (error) {
    reply = { id: request.id, error: serializeError(error) };
  }
  port.postMessage(reply);
});
