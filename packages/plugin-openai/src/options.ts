/**
 * Options of the OpenAI plugin: one zod schema holds their defaults and checks, so that an
 * application can compose it into its own config schema (through `.shape`: the schema is refined,
 * and zod refuses `.pick`/`.omit`/`.extend` on refined objects). The limits and sampling defaults
 * are the inference plugin's, so that one node answers both APIs alike.
 */
import { parsePluginOptions, z, type InjectionToken } from "@modelnode/core";
import type { OpenAICounters } from "./counters.js";

/** Sampling values used when a request leaves a field out (or sends null). */
export interface OpenAIDefaults {
  /** Default 64 (the inference plugin's; OpenAI's own default differs per endpoint). */
  maxTokens: number;
  /** Unset by default: the pipeline decides (the model's generation_config.json when it samples, else greedy). */
  temperature?: number;
  /** Unset by default: the pipeline decides. */
  topP?: number;
  /** Unset by default: the pipeline decides. */
  topK?: number;
}

export interface OpenAIPluginOptions {
  /** Longest completions `prompt`, in characters. Default 32 768. */
  maxPromptChars?: number;
  /** Most entries in a chat's `messages`. Default 64. */
  maxChatMessages?: number;
  /** Most characters in a chat's message contents, all together. Default 32 768. */
  maxChatChars?: number;
  /** Largest `max_tokens` (or `max_completion_tokens`) a request may ask for. Default 4096. */
  maxTokensLimit?: number;
  /** Most `stop` sequences per request. Default 4 (OpenAI's limit too). */
  maxStopSequences?: number;
  /** Longest single `stop` sequence, in characters. Default 64. */
  maxStopChars?: number;
  /** Largest request body, in bytes. Default: the node's `limits.maxMessageBytes` (512 KiB). */
  maxBodyBytes?: number;
  /** What `GET /v1/models` says in `owned_by`. Default "modelnode". */
  ownedBy?: string;
  defaults?: Partial<OpenAIDefaults>;
}

export interface ResolvedOpenAIOptions {
  maxPromptChars: number;
  maxChatMessages: number;
  maxChatChars: number;
  maxTokensLimit: number;
  maxStopSequences: number;
  maxStopChars: number;
  maxBodyBytes: number | undefined;
  ownedBy: string;
  defaults: OpenAIDefaults;
}

/** Only max_tokens has a plugin default: sampling is left to the pipeline (and the model) unless configured. */
export const OPENAI_DEFAULTS: OpenAIDefaults = { maxTokens: 64 };

export const OPENAI_LIMITS = {
  maxPromptChars: 32_768,
  maxChatMessages: 64,
  maxChatChars: 32_768,
  maxTokensLimit: 4096,
  maxStopSequences: 4,
  maxStopChars: 64,
} as const;

const integer = (min: number) => {
  const error = `expected an integer ≥ ${min}`;
  return z.int({ error }).min(min, { error });
};
const TEMPERATURE = "expected a number from 0 to 2";
const TOP_P = "expected a number in (0, 1]";

/** Sampling defaults' rules (what `defaults` may hold); only maxTokens has a default (OPENAI_DEFAULTS). */
export const openaiDefaultsSchema = z.strictObject({
  maxTokens: integer(1).default(OPENAI_DEFAULTS.maxTokens),
  temperature: z.number({ error: TEMPERATURE }).min(0, { error: TEMPERATURE }).max(2, { error: TEMPERATURE }).optional(),
  topP: z.number({ error: TOP_P }).gt(0, { error: TOP_P }).max(1, { error: TOP_P }).optional(),
  topK: integer(0).optional(),
});

/** The options' rules and defaults. Messages read "expected …", so that they fit after a field name. */
export const openaiOptionsSchema = z
  .strictObject({
    maxPromptChars: integer(1).default(OPENAI_LIMITS.maxPromptChars),
    maxChatMessages: integer(1).default(OPENAI_LIMITS.maxChatMessages),
    maxChatChars: integer(1).default(OPENAI_LIMITS.maxChatChars),
    maxTokensLimit: integer(1).default(OPENAI_LIMITS.maxTokensLimit),
    maxStopSequences: integer(0).default(OPENAI_LIMITS.maxStopSequences),
    maxStopChars: integer(1).default(OPENAI_LIMITS.maxStopChars),
    maxBodyBytes: integer(1).optional(),
    ownedBy: z.string({ error: "expected a string of 1 to 256 characters" }).min(1, { error: "expected a string of 1 to 256 characters" }).max(256, { error: "expected a string of 1 to 256 characters" }).default("modelnode"),
    defaults: openaiDefaultsSchema.prefault({}),
  })
  .superRefine((options, ctx) => {
    // zod runs this even when a field failed: compare only two valid values.
    const { maxTokensLimit, defaults } = options;
    const valid = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 1;
    if (valid(maxTokensLimit) && valid(defaults?.maxTokens) && defaults.maxTokens > maxTokensLimit) {
      ctx.addIssue({ code: "custom", path: ["defaults", "maxTokens"], message: `exceeds maxTokensLimit (${maxTokensLimit})` });
    }
  });

export function resolveOpenAIOptions(options: OpenAIPluginOptions = {}): ResolvedOpenAIOptions {
  const parsed = parsePluginOptions("openaiPlugin", openaiOptionsSchema, options);
  return { ...parsed, maxBodyBytes: parsed.maxBodyBytes };
}


export const OPENAI_COUNTERS: InjectionToken<OpenAICounters> = Symbol("modelnode.openai-counters");
