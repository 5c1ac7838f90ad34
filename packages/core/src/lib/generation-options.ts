/**
 * The options every plugin that turns client requests into generations shares (the WebSocket
 * inference plugin, the OpenAI API): limits on what a request may ask, and sampling defaults.
 * One definition, so the two front doors of a node cannot drift apart.
 */
import { z } from "zod";

/** What a request may ask for, unless a plugin's options say otherwise. */
export const GENERATION_LIMITS = {
  maxPromptChars: 32_768,
  maxTokensLimit: 4096,
  maxStopSequences: 4,
  maxStopChars: 64,
  maxChatMessages: 64,
  maxChatChars: 32_768,
  /** Most alternatives per token a request may ask log probabilities of (OpenAI's limit: 20). */
  maxTopLogprobs: 20,
  /** Most entries in a request's `logit_bias` (OpenAI's limit: 300). */
  maxLogitBias: 300,
} as const;

/** max_tokens when a request gives none. Sampling has no plugin default: the pipeline (and the model) decides. */
export const DEFAULT_MAX_TOKENS = 64;

const integer = (min: number) => {
  const error = `expected an integer ≥ ${min}`;
  return z.int({ error }).min(min, { error });
};
const TEMPERATURE = "expected a number from 0 to 2";
const TOP_P = "expected a number in (0, 1]";

/** Sampling defaults (a plugin's `defaults` option): only maxTokens has a default. */
export const samplingDefaultsSchema = z.strictObject({
  maxTokens: integer(1).default(DEFAULT_MAX_TOKENS),
  temperature: z.number({ error: TEMPERATURE }).min(0, { error: TEMPERATURE }).max(2, { error: TEMPERATURE }).optional(),
  topP: z.number({ error: TOP_P }).gt(0, { error: TOP_P }).max(1, { error: TOP_P }).optional(),
  topK: integer(0).optional(),
});

/** The limit fields with their defaults, and `defaults`: spread into a plugin's options object. */
export const generationOptionsShape = {
  maxPromptChars: integer(1).default(GENERATION_LIMITS.maxPromptChars),
  maxTokensLimit: integer(1).default(GENERATION_LIMITS.maxTokensLimit),
  maxStopSequences: integer(0).default(GENERATION_LIMITS.maxStopSequences),
  maxStopChars: integer(1).default(GENERATION_LIMITS.maxStopChars),
  maxChatMessages: integer(1).default(GENERATION_LIMITS.maxChatMessages),
  maxChatChars: integer(1).default(GENERATION_LIMITS.maxChatChars),
  maxTopLogprobs: integer(0).default(GENERATION_LIMITS.maxTopLogprobs),
  maxLogitBias: integer(0).default(GENERATION_LIMITS.maxLogitBias),
  defaults: samplingDefaultsSchema.prefault({}),
};

/** The cross-field rule: defaults.maxTokens may not exceed maxTokensLimit (use with `.superRefine`). */
export function checkDefaultMaxTokens(options: { maxTokensLimit?: unknown; defaults?: { maxTokens?: unknown } }, ctx: z.RefinementCtx): void {
  // zod runs refinements even when a field failed: compare only two valid values.
  const { maxTokensLimit } = options;
  const maxTokens = options.defaults?.maxTokens;
  const valid = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 1;
  if (valid(maxTokensLimit) && valid(maxTokens) && maxTokens > maxTokensLimit) {
    ctx.addIssue({ code: "custom", path: ["defaults", "maxTokens"], message: `exceeds maxTokensLimit (${maxTokensLimit})` });
  }
}
