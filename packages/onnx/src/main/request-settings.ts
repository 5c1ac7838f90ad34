/**
 * On the caller's thread, before a generation goes anywhere: its sampling options into checked
 * settings with the pipeline's defaults, its prompt or chat into checked input (encoded next, on
 * the tokenizer thread), a resume into what the engine continues. Bad values are coded errors (core's `errors.*`) a client can act on.
 */
import { errors, type ChatMessage, type GenerateRequest, type ResumeFrom, type SamplingOptions, type ToolCallFormat, type ToolSpec } from "@modelnode/core/pipeline";
import type { ResolvedSampling, SamplerSettings, SamplingDefaults } from "../messages/sampling.js";
import type { GenerationInput } from "../messages/tokenizer-protocol.js";
import { checkChat, type ChatLimits } from "../shared/chat-template.js";
import { parseSamplerState } from "../shared/sampler-state.js";
import { checkTools, type ToolLimits } from "../shared/tool-grammar.js";

/** Temperature when a request gives none: 0, i.e. greedy (deterministic unless asked otherwise). */
export const DEFAULT_TEMPERATURE = 0;
export const MAX_STOP_SEQUENCES = 16;
export const MAX_STOP_LENGTH = 256;

/** The pipeline's limits on what a request may ask (its options). */
export interface SamplingLimits {
  defaultMaxTokens: number;
  maxTokensCeiling: number;
  maxTopLogprobs: number;
  maxLogitBias: number;
}

/**
 * Precedence, per field: the request's value, else the model's generation_config.json (only when it
 * sets do_sample: true; see engine/loaded-model.ts), else the pipeline's default (temperature 0,
 * top-k off, top-p 1). The other adjustments (min-p, penalties, bias, logprobs) are off unless
 * asked for, and only what is on travels to the engine. `vocabSize`: logit_bias ids are checked
 * against it.
 */
export function resolveSampling(request: SamplingOptions, limits: SamplingLimits, model: SamplingDefaults = {}, vocabSize?: number): ResolvedSampling {
  const invalid = errors.invalidRequest;
  const maxTokens = request.maxTokens ?? limits.defaultMaxTokens;
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
  const { speculative } = request;
  if (speculative !== undefined && typeof speculative !== "boolean") throw invalid("Speculative must be true or false.", "speculative");
  return {
    maxTokens: Math.min(maxTokens, limits.maxTokensCeiling),
    stop: [...stop],
    sampling: { temperature, topK, topP, seed, ...adjustments(request, limits, vocabSize) },
    ...(speculative !== undefined ? { speculative } : {}),
  };
}

/** The optional adjustments a request turns on, checked; nothing for those left off. */
function adjustments(request: SamplingOptions, limits: SamplingLimits, vocabSize: number | undefined): Partial<SamplerSettings> {
  const invalid = errors.invalidRequest;
  const out: Partial<SamplerSettings> = {};
  const { minP, presencePenalty, frequencyPenalty, repetitionPenalty, logitBias, logprobs } = request;
  if (minP !== undefined) {
    if (!Number.isFinite(minP) || minP < 0 || minP > 1) throw invalid("Min-p must be a number from 0 to 1 (0 turns it off).", "minP");
    if (minP > 0) out.minP = minP;
  }
  for (const [field, value] of [["presencePenalty", presencePenalty], ["frequencyPenalty", frequencyPenalty]] as const) {
    if (value === undefined) continue;
    if (!Number.isFinite(value) || Math.abs(value) > 2) throw invalid(`The ${field === "presencePenalty" ? "presence" : "frequency"} penalty must be a number from -2 to 2.`, field);
    if (value !== 0) out[field] = value;
  }
  if (repetitionPenalty !== undefined) {
    if (!Number.isFinite(repetitionPenalty) || repetitionPenalty <= 0) throw invalid("The repetition penalty must be a number more than 0 (1 turns it off).", "repetitionPenalty");
    if (repetitionPenalty !== 1) out.repetitionPenalty = repetitionPenalty;
  }
  if (logitBias !== undefined) {
    const entries = logitBiasEntries(logitBias, limits.maxLogitBias, vocabSize);
    if (entries.length > 0) out.logitBias = entries;
  }
  if (logprobs !== undefined) {
    if (!Number.isInteger(logprobs) || logprobs < 0 || logprobs > limits.maxTopLogprobs) {
      throw invalid(`Logprobs must be an integer from 0 to ${limits.maxTopLogprobs} (the alternatives to report per token).`, "logprobs");
    }
    out.logprobs = logprobs;
  }
  return out;
}

function logitBiasEntries(logitBias: unknown, max: number, vocabSize: number | undefined): [number, number][] {
  const invalid = (message: string) => errors.invalidRequest(message, "logitBias");
  if (typeof logitBias !== "object" || logitBias === null || Array.isArray(logitBias)) throw invalid("The logit bias must map token ids to numbers.");
  const entries = Object.entries(logitBias);
  if (entries.length > max) throw invalid(`The logit bias may name at most ${max} tokens (got ${entries.length}).`);
  return entries.map(([key, bias]): [number, number] => {
    const id = Number(key);
    if (!/^\d+$/.test(key) || !Number.isSafeInteger(id) || (vocabSize !== undefined && id >= vocabSize)) {
      throw invalid(`The logit bias names ${JSON.stringify(key.slice(0, 32))}, not a token id of this model (0 to ${vocabSize === undefined ? "…" : vocabSize - 1}).`);
    }
    if (typeof bias !== "number" || !Number.isFinite(bias) || Math.abs(bias) > 100) throw invalid(`The logit bias of token ${id} must be a number from -100 to 100.`);
    return [id, bias];
  });
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

/** A chat's input as a generation offering these tools (its toolChoice not "none") renders it: the chat and the tools checked as a generation's are. */
export function chatInput(messages: readonly ChatMessage[], tools: readonly ToolSpec[] | undefined, format: ToolCallFormat | undefined, limits: ChatLimits & ToolLimits): GenerationInput {
  const input = generationInput({ messages: messages as ChatMessage[] }, limits);
  if (tools === undefined || tools.length === 0 || !("messages" in input)) return input;
  return { ...input, tools: checkTools({ tools: [...tools], toolChoice: "none", messages: input.messages }, format, limits).tools };
}

/** A `resume` as the engine takes it (copied), or undefined; INVALID_REQUEST / INVALID_TOKENS when malformed. */
export function checkResume(resume: ResumeFrom | undefined, vocabSize: number | undefined): ResumeFrom | undefined {
  if (resume === undefined) return undefined;
  if (typeof resume !== "object" || resume === null || !Array.isArray(resume.generatedIds)) {
    throw errors.invalidRequest("resume must be { generatedIds: number[], deliveredChars: number }.", "resume");
  }
  const { generatedIds, deliveredChars, samplerState } = resume;
  if (!Number.isInteger(deliveredChars) || deliveredChars < 0) throw errors.invalidRequest("resume.deliveredChars must be a non-negative integer.", "resume");
  if (samplerState !== undefined && parseSamplerState(samplerState) === undefined) {
    throw errors.invalidRequest("The resume's samplerState must be one this pipeline gave in a text event (8 hex digits).", "resume.samplerState");
  }
  for (const id of generatedIds) {
    if (!Number.isInteger(id) || id < 0 || (vocabSize !== undefined && id >= vocabSize)) {
      throw errors.invalidTokens(`resume.generatedIds holds ${String(id)}, not a token id of this model.`);
    }
  }
  return { generatedIds: [...generatedIds], deliveredChars, ...(samplerState !== undefined ? { samplerState } : {}) };
}
