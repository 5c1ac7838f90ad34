/**
 * Messages between the main thread's TokenizerThread (main/tokenizer-thread.ts) and the
 * tokenizer thread (tokenizer/worker.ts): a call carries an id chosen by the caller, and its
 * reply the same id with a result or the error as data.
 */
import type { ChatMessage, Tokenization, ToolSpec } from "@modelnode/core/pipeline";
import type { SerializedError } from "./errors.js";

/** What a generation continues: a prompt, or a chat (and the tools it offers) rendered with the model's chat template. */
export type GenerationInput = { prompt: string } | { messages: ChatMessage[]; tools?: ToolSpec[] };

/** What the tokenizer thread needs of a model. */
export interface TokenizerModel {
  /** Absolute model directory (tokenizer.json, tokenizer_config.json). */
  dir: string;
  bosTokenId?: number;
}

/** What the tokenizer thread is started with (its `workerData`). */
export interface TokenizerOptions {
  models: Record<string, TokenizerModel>;
}

export type TokenizerCall =
  | { op: "tokenize" | "count"; modelId: string; text: string }
  | { op: "detokenize"; modelId: string; ids: number[] }
  | { op: "input"; modelId: string; input: GenerationInput }
  | { op: "encode"; modelId: string; text: string; addSpecialTokens: boolean }
  | { op: "load"; modelId: string };
export type TokenizerRequest = TokenizerCall & { id: number };
/** tokenize: a Tokenization; count: a number; detokenize: the text; input, encode: ids; load: 0. */
export type TokenizerResult = Tokenization | number | string | number[];
export type TokenizerReply = { id: number; result: TokenizerResult } | { id: number; error: SerializedError };
