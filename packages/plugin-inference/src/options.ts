/**
 * Options of the inference plugin (one zod schema holds their defaults and checks, so that an
 * application can compose it into its own config schema), and the DI tokens it registers.
 */
import { parsePluginOptions, z, type InjectionToken } from "@modelnode/core";
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
  defaults?: Partial<InferenceDefaults>;
}

export interface ResolvedInferenceOptions {
  maxPromptChars: number;
  maxTokensLimit: number;
  maxStopSequences: number;
  maxStopChars: number;
  maxChatMessages: number;
  maxChatChars: number;
  defaults: InferenceDefaults;
}

/** Only max_tokens has a plugin default: sampling is left to the pipeline (and the model) unless configured. */
export const INFERENCE_DEFAULTS: InferenceDefaults = { maxTokens: 64 };

export const INFERENCE_LIMITS = {
  maxPromptChars: 32_768,
  maxTokensLimit: 4096,
  maxStopSequences: 4,
  maxStopChars: 64,
  maxChatMessages: 64,
  maxChatChars: 32_768,
} as const;

const integer = (min: number) => {
  const error = `expected an integer ≥ ${min}`;
  return z.int({ error }).min(min, { error });
};
const TEMPERATURE = "expected a number from 0 to 2";
const TOP_P = "expected a number in (0, 1]";

/** Sampling defaults' rules (what `defaults` may hold); only maxTokens has a default (INFERENCE_DEFAULTS). */
export const inferenceDefaultsSchema = z.strictObject({
  maxTokens: integer(1).default(INFERENCE_DEFAULTS.maxTokens),
  temperature: z.number({ error: TEMPERATURE }).min(0, { error: TEMPERATURE }).max(2, { error: TEMPERATURE }).optional(),
  topP: z.number({ error: TOP_P }).gt(0, { error: TOP_P }).max(1, { error: TOP_P }).optional(),
  topK: integer(0).optional(),
});

/**
 * The options' rules and defaults. Messages read "expected …", so that they fit after a field
 * name. It checks defaults.maxTokens against maxTokensLimit (a refinement), so compose it into a
 * bigger schema through `.shape` (zod refuses `.pick`/`.omit` on refined objects).
 */
export const inferenceOptionsSchema = z
  .strictObject({
    maxPromptChars: integer(1).default(INFERENCE_LIMITS.maxPromptChars),
    maxTokensLimit: integer(1).default(INFERENCE_LIMITS.maxTokensLimit),
    maxStopSequences: integer(0).default(INFERENCE_LIMITS.maxStopSequences),
    maxStopChars: integer(1).default(INFERENCE_LIMITS.maxStopChars),
    maxChatMessages: integer(1).default(INFERENCE_LIMITS.maxChatMessages),
    maxChatChars: integer(1).default(INFERENCE_LIMITS.maxChatChars),
    defaults: inferenceDefaultsSchema.prefault({}),
  })
  .superRefine((options, ctx) => {
    // zod runs this even when a field failed: compare only two valid values.
    const { maxTokensLimit, defaults } = options;
    const valid = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 1;
    if (valid(maxTokensLimit) && valid(defaults?.maxTokens) && defaults.maxTokens > maxTokensLimit) {
      ctx.addIssue({
        code: "custom",
        path: ["defaults", "maxTokens"],
        message: `exceeds maxTokensLimit (${options.maxTokensLimit})`,
      });
    }
  });

export function resolveInferenceOptions(options: InferencePluginOptions = {}): ResolvedInferenceOptions {
  return parsePluginOptions("inferencePlugin", inferenceOptionsSchema, options);
}



export const INFERENCE_OPTIONS: InjectionToken<ResolvedInferenceOptions> = Symbol("modelnode.inference-options");
export const INFERENCE_COUNTERS: InjectionToken<InferenceCounters> = Symbol("modelnode.inference-counters");
