/**
 * Options of the inference plugin (one zod schema holds their defaults and checks, so that an
 * application can compose it into its own config schema), and the DI tokens it registers.
 */
import {
  checkDefaultMaxTokens,
  DEFAULT_MAX_TOKENS,
  GENERATION_LIMITS,
  generationOptionsShape,
  parsePluginOptions,
  samplingDefaultsSchema,
  z,
  type InjectionToken,
} from "@modelnode/core";
import type { InferenceCounters } from "./counters.js";

/** Sampling values used when a request leaves a field out. */
export interface InferenceDefaults {
  /** Default 64. */
  maxTokens: number;
  /**
   * Unset by default: the pipeline decides (with @modelnode/onnx, the model's
   * generation_config.json when it samples, else 0: greedy). Set it to impose one on every model.
   */
  temperature?: number;
  /** Unset by default (the pipeline decides; @modelnode/onnx: the model's, else 1.0, no nucleus filtering). */
  topP?: number;
  /** Unset by default (the pipeline decides; @modelnode/onnx: the model's, else 0, no top-k filtering). */
  topK?: number;
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
  /** Most entries in a request's `messages`. Default 64. */
  maxChatMessages?: number;
  /** Most characters in a request's `messages` contents, all together. Default 32 768. */
  maxChatChars?: number;
  /** Largest `top_logprobs` a request may ask for. Default 20. */
  maxTopLogprobs?: number;
  /** Most tokens in a request's `logit_bias`. Default 300. */
  maxLogitBias?: number;
  defaults?: Partial<InferenceDefaults>;
}

/** Only max_tokens has a plugin default: sampling is left to the pipeline (and the model) unless configured. */
export const INFERENCE_DEFAULTS: InferenceDefaults = { maxTokens: DEFAULT_MAX_TOKENS };

/** The request limits, shared with every generation front door (core's GENERATION_LIMITS). */
export const INFERENCE_LIMITS = GENERATION_LIMITS;

/** Sampling defaults' rules (what `defaults` may hold); only maxTokens has a default (INFERENCE_DEFAULTS). */
export const inferenceDefaultsSchema = samplingDefaultsSchema;

/**
 * The options' rules and defaults (core's generationOptionsShape). Messages read "expected …",
 * so that they fit after a field name. It checks defaults.maxTokens against maxTokensLimit (a
 * refinement), so compose it into a bigger schema through `.shape` (zod refuses `.pick`/`.omit`
 * on refined objects).
 */
export const inferenceOptionsSchema = z.strictObject(generationOptionsShape).superRefine(checkDefaultMaxTokens);

/** The options with their defaults filled in (what the handlers get through INFERENCE_OPTIONS). */
export type ResolvedInferenceOptions = z.output<typeof inferenceOptionsSchema>;

export function resolveInferenceOptions(options: InferencePluginOptions = {}): ResolvedInferenceOptions {
  return parsePluginOptions("inferencePlugin", inferenceOptionsSchema, options);
}

export const INFERENCE_OPTIONS: InjectionToken<ResolvedInferenceOptions> = Symbol("modelnode.inference-options");
export const INFERENCE_COUNTERS: InjectionToken<InferenceCounters> = Symbol("modelnode.inference-counters");
