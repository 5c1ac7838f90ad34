/**
 * Turns a request's sampling options into checked settings with the pipeline's defaults, and a
 * request's tokens into checked ids. Bad values are `PipelineError`s a client can act on.
 */
import { PipelineError, type SamplingOptions } from "@modelnode/core";
import type { SamplerSettings } from "./sampler.js";
import type { LoadedModel } from "./loaded-model.js";

/** Temperature when a request gives none: 0, i.e. greedy (deterministic unless asked otherwise). */
export const DEFAULT_TEMPERATURE = 0;
export const MAX_STOP_SEQUENCES = 16;
export const MAX_STOP_LENGTH = 256;

export interface ResolvedSampling {
  maxTokens: number;
  stop: string[];
  sampling: SamplerSettings;
}

export function resolveSampling(request: SamplingOptions, defaults: { defaultMaxTokens: number; maxTokensCeiling: number }): ResolvedSampling {
  const invalid = (message: string, field: string) => new PipelineError("INVALID_REQUEST", message, { field });
  const maxTokens = request.maxTokens ?? defaults.defaultMaxTokens;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw invalid("maxTokens must be a positive integer", "maxTokens");
  const temperature = request.temperature ?? DEFAULT_TEMPERATURE;
  if (!Number.isFinite(temperature) || temperature < 0) throw invalid("temperature must be a number ≥ 0", "temperature");
  const topK = request.topK ?? 0;
  if (!Number.isInteger(topK) || topK < 0) throw invalid("topK must be an integer ≥ 0 (0 = off)", "topK");
  const topP = request.topP ?? 1;
  if (!Number.isFinite(topP) || topP <= 0 || topP > 1) throw invalid("topP must be in (0, 1]", "topP");
  if (request.seed !== undefined && !Number.isSafeInteger(request.seed)) throw invalid("seed must be an integer", "seed");
  const seed = request.seed ?? Math.floor(Math.random() * 2 ** 32);
  const stop = request.stop ?? [];
  if (!Array.isArray(stop) || stop.length > MAX_STOP_SEQUENCES) throw invalid(`stop must be an array of at most ${MAX_STOP_SEQUENCES} strings`, "stop");
  for (const s of stop) {
    if (typeof s !== "string" || s.length === 0 || s.length > MAX_STOP_LENGTH) {
      throw invalid(`each stop sequence must be a non-empty string of at most ${MAX_STOP_LENGTH} characters`, "stop");
    }
  }
  return {
    maxTokens: Math.min(maxTokens, defaults.maxTokensCeiling),
    stop: [...stop],
    sampling: { temperature, topK, topP, seed },
  };
}

/** Token ids for a prompt; an empty prompt becomes the model's BOS token when it has one. */
export function promptIds(model: LoadedModel, prompt: string): number[] {
  if (typeof prompt !== "string") throw new PipelineError("INVALID_REQUEST", "prompt must be a string", { field: "prompt" });
  const ids = model.tokenizer.encode(prompt, true);
  if (ids.length > 0) return ids;
  if (model.bosTokenId !== undefined) return [model.bosTokenId];
  throw new PipelineError("INVALID_REQUEST", "prompt is empty and the model has no BOS token to start from", { field: "prompt" });
}

export function checkTokenIds(model: LoadedModel, ids: readonly unknown[]): number[] {
  if (ids.length === 0) throw new PipelineError("INVALID_TOKENS", "no input tokens");
  const vocabSize = model.signature.vocabSize;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new PipelineError("INVALID_TOKENS", `token id at index ${i} is not an integer in [0, ${vocabSize})`, { index: i, value: id });
    }
  }
  return ids as number[];
}

export function checkAttentionMask(mask: readonly unknown[] | undefined, length: number): number[] | undefined {
  if (mask === undefined) return undefined;
  if (!Array.isArray(mask) || mask.length !== length || mask.some((m) => m !== 0 && m !== 1)) {
    throw new PipelineError("INVALID_TOKENS", `attentionMask must be ${length} values, each 0 or 1 (one per input token)`);
  }
  return mask as number[];
}

export function checkContext(model: LoadedModel, held: number, adding: number): void {
  if (held + adding > model.contextLength) {
    throw new PipelineError(
      "CONTEXT_LENGTH_EXCEEDED",
      `${held + adding} tokens exceed the context length of model "${model.id}" (${model.contextLength})`,
      { contextLength: model.contextLength, tokens: held + adding },
    );
  }
}
