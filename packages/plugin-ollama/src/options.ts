/**
 * Options of the Ollama plugin: one zod schema holds their defaults and checks, so that an
 * application can compose it into its own config schema (through `.shape`). The limits and
 * sampling defaults are the inference plugin's (core's generation options), so that one node
 * answers every API alike; Ollama's own sampling defaults (temperature 0.8, top_k 40, …) are not
 * applied: a request's absent options take the node's.
 */
import { checkDefaultMaxTokens, generationOptionsShape, parsePluginOptions, samplingDefaultsSchema, z, type InjectionToken } from "@modelnode/core";
import type { OllamaCounters } from "./counters.js";

export interface OllamaDefaults {
  /** Tokens generated when `options.num_predict` is absent. Default 64 (the inference plugin's). */
  maxTokens: number;
  /** Unset by default: the pipeline decides (the model's generation_config.json, else greedy). */
  temperature?: number;
  topP?: number;
  topK?: number;
}

export interface OllamaPluginOptions {
  /** Longest `prompt` (and `system`) of /api/generate, in characters. Default 32 768. */
  maxPromptChars?: number;
  /** Most entries in a chat's `messages`. Default 64. */
  maxChatMessages?: number;
  /** Most characters in a chat's message contents, all together. Default 32 768. */
  maxChatChars?: number;
  /** Largest `options.num_predict`; -1 and -2 ("as many as allowed") mean this. Default 4096. */
  maxTokensLimit?: number;
  /** Largest `top_logprobs`. Default 20. */
  maxTopLogprobs?: number;
  /** Most `options.stop` sequences. Default 4. */
  maxStopSequences?: number;
  /** Longest single stop sequence, in characters. Default 64. */
  maxStopChars?: number;
  /** Largest request body, in bytes. Default: the node's `limits.maxMessageBytes` (512 KiB). */
  maxBodyBytes?: number;
  /** What `GET /api/version` answers. Default: this package's version. */
  version?: string;
  defaults?: Partial<OllamaDefaults>;
}

export const ollamaDefaultsSchema = samplingDefaultsSchema;

const POSITIVE = "expected an integer ≥ 1";
const VERSION = "expected a version string of 1 to 64 characters";

/** The options' rules and defaults. `version` stays unset when not given (the plugin fills in its package's). */
export const ollamaOptionsSchema = z
  .strictObject({
    ...generationOptionsShape,
    maxBodyBytes: z.int({ error: POSITIVE }).min(1, { error: POSITIVE }).optional(),
    version: z.string({ error: VERSION }).min(1, { error: VERSION }).max(64, { error: VERSION }).optional(),
  })
  .superRefine(checkDefaultMaxTokens);

export type ResolvedOllamaOptions = z.output<typeof ollamaOptionsSchema>;

export function resolveOllamaOptions(options: OllamaPluginOptions = {}): ResolvedOllamaOptions {
  return parsePluginOptions("ollamaPlugin", ollamaOptionsSchema, options);
}

export const OLLAMA_COUNTERS: InjectionToken<OllamaCounters> = Symbol("modelnode.ollama-counters");
