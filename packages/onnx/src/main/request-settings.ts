/**
 * On the caller's thread, before a generation goes anywhere: its sampling options into checked
 * settings with the pipeline's defaults, its prompt or chat into checked input (encoded next, on
 * the tokenizer thread). Bad values are coded errors (core's `errors.*`) a client can act on.
 */
import { errors, type GenerateRequest, type SamplingOptions } from "@modelnode/core/pipeline";
import type { ResolvedSampling, SamplingDefaults } from "../messages/sampling.js";
import type { GenerationInput } from "../messages/tokenizer-protocol.js";
import { checkChat, type ChatLimits } from "../shared/chat-template.js";

/** Temperature when a request gives none: 0, i.e. greedy (deterministic unless asked otherwise). */
export const DEFAULT_TEMPERATURE = 0;
export const MAX_STOP_SEQUENCES = 16;
export const MAX_STOP_LENGTH = 256;

/**
 * Precedence, per field: the request's value, else the model's generation_config.json (only when it
 * sets do_sample: true; see engine/loaded-model.ts), else the pipeline's default (temperature 0,
 * top-k off, top-p 1).
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
