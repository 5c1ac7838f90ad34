/**
 * The tokenizer thread's entry point (a `worker_threads` Worker started by TokenizerThread). Each
 * model's tokenizer and chat template are built on first use (or on `load`), from the same files
 * with the same code as the engine's; a request's failure is sent back as data, never thrown.
 */
import { parentPort, workerData } from "node:worker_threads";
import { errors } from "@modelnode/core/pipeline";
import { serializeError } from "../messages/errors.js";
import type { TokenizerOptions, TokenizerReply, TokenizerRequest, TokenizerResult } from "../messages/tokenizer-protocol.js";
import { ChatTemplate } from "../shared/chat-template.js";
import { readTokenizerFiles } from "../shared/model-files.js";
import { buildTokenizer, promptTokenIds, type TextTokenizer } from "../shared/text-tokenizer.js";
import { inputIds, type PromptEncoder } from "./prompt-encoding.js";
import { tokenPieces } from "./token-pieces.js";

const port = parentPort!;
const { models } = workerData as TokenizerOptions;
const encoders = new Map<string, PromptEncoder>();

function encoderOf(modelId: string): PromptEncoder {
  let encoder = encoders.get(modelId);
  if (!encoder) {
    const model = models[modelId];
    if (!model) throw errors.modelNotFound(modelId, Object.keys(models));
    const files = readTokenizerFiles(modelId, model.dir);
    const tokenizer: TextTokenizer = buildTokenizer(modelId, model.dir, files);
    encoder = { id: modelId, tokenizer, chatTemplate: ChatTemplate.load(modelId, model.dir, files.tokenizerConfig), bosTokenId: model.bosTokenId };
    encoders.set(modelId, encoder);
  }
  return encoder;
}

function answer(request: TokenizerRequest): TokenizerResult {
  const encoder = encoderOf(request.modelId);
  const { tokenizer } = encoder;
  switch (request.op) {
    case "load":
      return 0;
    case "detokenize":
      return tokenizer.decode(request.ids);
    case "input":
      return inputIds(encoder, request.input);
    case "encode": {
      const ids = tokenizer.encode(request.text, request.addSpecialTokens);
      if (ids.length === 0) throw errors.invalidTokens("The input text encodes to no tokens.");
      return ids;
    }
  }
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
