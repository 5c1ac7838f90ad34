/** Options of the inference plugin, their defaults, and the DI tokens it registers. */
import type { InjectionToken } from "@modelnode/core";
import type { InferenceCounters } from "./counters.js";

/** Sampling values used when a request leaves a field out. */
export interface InferenceDefaults {
  /** Default 64. */
  maxTokens: number;
  /** Default 0: greedy, so the same request gives the same text unless it asks for sampling. */
  temperature: number;
  /** Default 1.0 (no nucleus filtering). */
  topP: number;
  /** Default 0 (no top-k filtering). */
  topK: number;
}

export interface InferencePluginOptions {
  /** Longest `prompt` accepted, in characters. Default 32 768. */
  maxPromptChars?: number;
  /** Largest `max_tokens` a request may ask for (the pipeline may clamp lower). Default 4096. */
  maxTokensLimit?: number;
  /** Most `stop` sequences per request. Default 4. */
  maxStopSequences?: number;
  /** Longest single `stop` sequence, in characters. Default 64. */
  maxStopChars?: number;
  defaults?: Partial<InferenceDefaults>;
}

export interface ResolvedInferenceOptions {
  maxPromptChars: number;
  maxTokensLimit: number;
  maxStopSequences: number;
  maxStopChars: number;
  defaults: InferenceDefaults;
}

export const INFERENCE_DEFAULTS: InferenceDefaults = { maxTokens: 64, temperature: 0, topP: 1, topK: 0 };

export const INFERENCE_LIMITS = {
  maxPromptChars: 32_768,
  maxTokensLimit: 4096,
  maxStopSequences: 4,
  maxStopChars: 64,
} as const;

export function resolveInferenceOptions(options: InferencePluginOptions): ResolvedInferenceOptions {
  const resolved: ResolvedInferenceOptions = {
    maxPromptChars: options.maxPromptChars ?? INFERENCE_LIMITS.maxPromptChars,
    maxTokensLimit: options.maxTokensLimit ?? INFERENCE_LIMITS.maxTokensLimit,
    maxStopSequences: options.maxStopSequences ?? INFERENCE_LIMITS.maxStopSequences,
    maxStopChars: options.maxStopChars ?? INFERENCE_LIMITS.maxStopChars,
    defaults: { ...INFERENCE_DEFAULTS, ...definedOnly(options.defaults ?? {}) },
  };
  for (const key of ["maxPromptChars", "maxTokensLimit", "maxStopChars"] as const) {
    requireInteger(key, resolved[key], 1);
  }
  requireInteger("maxStopSequences", resolved.maxStopSequences, 0);
  const d = resolved.defaults;
  requireInteger("defaults.maxTokens", d.maxTokens, 1);
  if (d.maxTokens > resolved.maxTokensLimit) {
    throw new TypeError(`inferencePlugin: defaults.maxTokens (${d.maxTokens}) exceeds maxTokensLimit (${resolved.maxTokensLimit})`);
  }
  requireInteger("defaults.topK", d.topK, 0);
  if (!(Number.isFinite(d.temperature) && d.temperature >= 0 && d.temperature <= 2)) {
    throw new TypeError(`inferencePlugin: defaults.temperature must be between 0 and 2 (got ${d.temperature})`);
  }
  if (!(Number.isFinite(d.topP) && d.topP > 0 && d.topP <= 1)) {
    throw new TypeError(`inferencePlugin: defaults.topP must be in (0, 1] (got ${d.topP})`);
  }
  return resolved;
}

function requireInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`inferencePlugin: ${name} must be an integer ≥ ${min} (got ${String(value)})`);
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export const INFERENCE_OPTIONS: InjectionToken<ResolvedInferenceOptions> = Symbol("modelnode.inference-options");
export const INFERENCE_COUNTERS: InjectionToken<InferenceCounters> = Symbol("modelnode.inference-counters");
