/**
 * Options of the OpenAI plugin: one zod schema holds their defaults and checks, so that an
 * application can compose it into its own config schema (through `.shape`: the schema is refined,
 * and zod refuses `.pick`/`.omit`/`.extend` on refined objects). The limits and sampling defaults
 * are the inference plugin's, so that one node answers both APIs alike.
 */
import { checkDefaultMaxTokens, DEFAULT_MAX_TOKENS, GENERATION_LIMITS, generationOptionsShape, type InjectionToken, parsePluginOptions, samplingDefaultsSchema, z } from "@modelnode/core";
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
  /** Most choices one request may ask for (`n`). Default 8. */
  maxChoices?: number;
  /** Largest `top_logprobs` (chat) or `logprobs` (completions). Default 20 (OpenAI's limit). */
  maxTopLogprobs?: number;
  /** Most tokens in one `logit_bias`. Default 300 (OpenAI's limit). */
  maxLogitBias?: number;
  /** Largest request body, in bytes. Default: the node's `limits.maxMessageBytes` (512 KiB). */
  maxBodyBytes?: number;
  /** What `GET /v1/models` says in `owned_by`. Default "modelnode". */
  ownedBy?: string;
  /** Serve vLLM's `POST /tokenize` and `POST /detokenize`. Default true. */
  tokenizerRoutes?: boolean;
  /** Responses kept in memory for `previous_response_id` and `GET /v1/responses/{id}` (least recently used dropped first). Default 256; 0 keeps none. */
  maxStoredResponses?: number;
  /** The kept responses' size in all (their JSON), in bytes. Default 16 MiB. */
  maxStoredResponseBytes?: number;
  defaults?: Partial<OpenAIDefaults>;
}

/** Most choices (`n`) a request may ask for, unless the options say otherwise: each is a generation of its own. */
export const OPENAI_MAX_CHOICES = 8;

/** Only max_tokens has a plugin default: sampling is left to the pipeline (and the model) unless configured. */
export const OPENAI_DEFAULTS: OpenAIDefaults = { maxTokens: DEFAULT_MAX_TOKENS };

/** The request limits: the inference plugin's (core's GENERATION_LIMITS), and `n`'s. */
export const OPENAI_LIMITS = { ...GENERATION_LIMITS, maxChoices: OPENAI_MAX_CHOICES } as const;

/** Sampling defaults' rules (what `defaults` may hold); only maxTokens has a default (OPENAI_DEFAULTS). */
export const openaiDefaultsSchema = samplingDefaultsSchema;

const BODY = "expected a string of 1 to 256 characters";

/** The options' rules and defaults. Messages read "expected …", so that they fit after a field name. */
export const openaiOptionsSchema = z
  .strictObject({
    ...generationOptionsShape,
    maxChoices: z.int({ error: "expected an integer ≥ 1" }).min(1, { error: "expected an integer ≥ 1" }).default(OPENAI_MAX_CHOICES),
    maxBodyBytes: z.int({ error: "expected an integer ≥ 1" }).min(1, { error: "expected an integer ≥ 1" }).optional(),
    ownedBy: z.string({ error: BODY }).min(1, { error: BODY }).max(256, { error: BODY }).default("modelnode"),
    tokenizerRoutes: z.boolean({ error: "expected true or false" }).default(true),
    maxStoredResponses: z.int({ error: "expected an integer ≥ 0" }).min(0, { error: "expected an integer ≥ 0" }).default(256),
    maxStoredResponseBytes: z.int({ error: "expected an integer ≥ 1" }).min(1, { error: "expected an integer ≥ 1" }).default(16 * 1024 * 1024),
  })
  .superRefine(checkDefaultMaxTokens);

/** The options with their defaults filled in (maxBodyBytes stays unset: the node's limit applies). */
export type ResolvedOpenAIOptions = z.output<typeof openaiOptionsSchema>;

export function resolveOpenAIOptions(options: OpenAIPluginOptions = {}): ResolvedOpenAIOptions {
  const parsed = parsePluginOptions("openaiPlugin", openaiOptionsSchema, options);
  return { ...parsed, maxBodyBytes: parsed.maxBodyBytes };
}

export const OPENAI_COUNTERS: InjectionToken<OpenAICounters> = Symbol("modelnode.openai-counters");
