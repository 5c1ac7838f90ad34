/**
 * Turns a request's sampling options into checked settings with the pipeline's defaults, its
 * prompt or chat into checked input and then token ids, and a request's tokens into checked ids.
 * Bad values are coded errors (core's `errors.*`) a client can act on.
 */
import { errors, type ChatMessage, type GenerateRequest, type SamplingOptions } from "@modelnode/core/pipeline";
import { checkChat, type ChatLimits } from "./chat-template.js";
import type { GenerationInput } from "./engine/protocol.js";
import type { SamplerSettings } from "./sampler.js";
import type { ChatTemplate } from "./chat-template.js";
import type { LoadedModel, SamplingDefaults } from "./loaded-model.js";
import { promptTokenIds, type TextTokenizer } from "./tokenizer.js";

/** Temperature when a request gives none: 0, i.e. greedy (deterministic unless asked otherwise). */
export const DEFAULT_TEMPERATURE = 0;
export const MAX_STOP_SEQUENCES = 16;
export const MAX_STOP_LENGTH = 256;

export interface ResolvedSampling {
  maxTokens: number;
  stop: string[];
  sampling: SamplerSettings;
}

/**
 * Precedence, per field: the request's value, else the model's generation_config.json (only when it
 * sets do_sample: true; see loaded-model.ts), else the pipeline's default (temperature 0, top-k off,
 * top-p 1).
 */
export function resolveSampling(
  request: SamplingOptions,
  defaults: { defaultMaxTokens: number; maxTokensCeiling: number },
  model: SamplingDefaults = {},
): ResolvedSampling {
  const invalid = errors.invalidRequest;
  const maxTokens = request.maxTokens ?? defaults.defaultMaxTokens;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw invalid("The maximum number of tokens must be a positive integer.", "maxTokens");
  const temperature = request.temperature ?? model.temperature ?? DEFAULT_TEMPERATURE;
  if (!Number.isFinite(temperature) || temperature < 0) throw invalid("The temperature must be a number of at least 0.", "temperature");
  const topK = request.topK ?? model.topK ?? 0;
  if (!Number.isInteger(topK) || topK < 0) throw invalid("Top-k must be an integer of at least 0 (0 turns it off).", "topK");
  const topP = request.topP ?? model.topP ?? 1;
  if (!Number.isFinite(topP) || topP <= 0 || topP > 1) throw invalid("Top-p must be more than 0 and at most 1.", "topP");
  if (request.seed !== undefined && !Number.isSafeInteger(request.seed)) throw invalid("The seed must be an integer.", "seed");
  const seed = request.seed ?? Math.floor(Math.random() * 2 ** 32);
  const stop = request.stop ?? [];
  if (!Array.isArray(stop) || stop.length > MAX_STOP_SEQUENCES) throw invalid(`Stop must be an array of at most ${MAX_STOP_SEQUENCES} strings.`, "stop");
  for (const s of stop) {
    if (typeof s !== "string" || s.length === 0 || s.length > MAX_STOP_LENGTH) {
      throw invalid(`Each stop sequence must be a non-empty string of at most ${MAX_STOP_LENGTH} characters.`, "stop");
    }
  }
  return {
    maxTokens: Math.min(maxTokens, defaults.maxTokensCeiling),
    stop: [...stop],
    sampling: { temperature, topK, topP, seed },
  };
}

/**
 * What a request continues: exactly one of `prompt` (a string) and `messages` (checked against
 * `limits`, and copied). Both or neither is INVALID_REQUEST.
 */
export function generationInput(request: Pick<GenerateRequest, "prompt" | "messages">, limits: ChatLimits): GenerationInput {
  const hasPrompt = request.prompt !== undefined;
  const hasMessages = request.messages !== undefined;
  if (hasPrompt && hasMessages) throw errors.invalidRequest("Give either a prompt or messages, not both.", "messages");
  if (!hasPrompt && !hasMessages) throw errors.invalidRequest("Give a prompt or messages.", "prompt");
  if (hasMessages) return { messages: checkChat(request.messages, limits) };
  if (typeof request.prompt !== "string") throw errors.invalidRequest("The prompt must be a string.", "prompt");
  return { prompt: request.prompt };
}

/** What encoding a request needs of a model (the tokenizer thread holds one per model). */
export interface PromptEncoder {
  id: string;
  tokenizer: TextTokenizer;
  chatTemplate: ChatTemplate;
  bosTokenId?: number;
}

/** Token ids of what a generation continues: its prompt, or its chat rendered with the model's template. */
export function inputIds(model: PromptEncoder, input: GenerationInput): number[] {
  return "messages" in input ? chatIds(model, input.messages) : promptIds(model, input.prompt);
}

/** Token ids for a prompt (as `tokenize` reports them); an empty prompt becomes the model's BOS token when it has one. */
export function promptIds(model: PromptEncoder, prompt: string): number[] {
  if (typeof prompt !== "string") throw errors.invalidRequest("The prompt must be a string.", "prompt");
  const ids = promptTokenIds(model.tokenizer, prompt, model.bosTokenId);
  if (ids.length > 0) return ids;
  throw errors.invalidRequest(`The prompt is empty, and model "${model.id}" has no beginning-of-sequence token to start from.`, "prompt");
}

/**
 * Token ids for a chat: its messages rendered with the model's chat template. The model's own
 * template's text is encoded as transformers.js's `apply_chat_template` encodes it, without the
 * special tokens the tokenizer adds to a prompt: such templates write their BOS themselves
 * (`{{ bos_token }}`), so the tokenizer's would be a second one. The fallback template writes
 * none, so its text is encoded as a prompt is (BOS included where the tokenizer adds one).
 */
export function chatIds(model: PromptEncoder, messages: readonly ChatMessage[]): number[] {
  const text = model.chatTemplate.render(messages);
  const ids = model.chatTemplate.own ? model.tokenizer.encode(text, false) : promptTokenIds(model.tokenizer, text, model.bosTokenId);
  if (ids.length > 0) return ids;
  if (model.bosTokenId !== undefined) return [model.bosTokenId];
  throw errors.invalidRequest(`The chat template of model "${model.id}" rendered the messages as no text at all.`, "messages");
}

export function checkTokenIds(model: LoadedModel, ids: readonly unknown[]): number[] {
  if (ids.length === 0) throw errors.invalidTokens("The input holds no token ids.");
  return checkVocabulary(model.id, model.signature.vocabSize, ids);
}

/** `ids` when each is an integer in [0, vocabSize); else INVALID_TOKENS naming the first that is not. */
export function checkVocabulary(modelId: string, vocabSize: number, ids: readonly unknown[]): number[] {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw errors.invalidTokens(
        `Token id ${clip(String(id), 24)} at index ${i} is not in the vocabulary of model "${modelId}" (an integer from 0 to ${vocabSize - 1}).`,
        { index: i },
      );
    }
  }
  return ids as number[];
}

export function checkAttentionMask(mask: readonly unknown[] | undefined, length: number): number[] | undefined {
  if (mask === undefined) return undefined;
  if (!Array.isArray(mask) || mask.length !== length || mask.some((m) => m !== 0 && m !== 1)) {
    throw errors.invalidTokens(`The attention mask must be ${length} values, each 0 or 1 (one per input token).`);
  }
  return mask as number[];
}

export function checkContext(model: LoadedModel, held: number, adding: number): void {
  if (held + adding > model.contextLength) {
    throw errors.contextLengthExceeded(
      `This needs ${held + adding} tokens, more than the context length of model "${model.id}" (${model.contextLength}).`,
      { context_length: model.contextLength, tokens: held + adding },
    );
  }
}

/** Bounded echo of client-supplied text in messages. */
export function clip(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
