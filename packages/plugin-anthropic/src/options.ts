/**
 * Options of the Anthropic plugin: one zod schema holds their defaults and checks (an application
 * composes it into its own config through `.shape`). The limits are core's generation limits, so
 * one node bounds every door alike; `max_tokens` is required by the API, so only the sampling
 * defaults (temperature, top_p, top_k) apply.
 */
import { GENERATION_LIMITS, type InjectionToken, parsePluginOptions, z } from "@modelnode/core";
import type { AnthropicCounters } from "./counters.js";

export interface AnthropicDefaults {
  /** Unset by default: the pipeline decides (the model's generation_config.json when it samples, else greedy). */
  temperature?: number;
  topP?: number;
  topK?: number;
}

export interface AnthropicPluginOptions {
  /** Largest `max_tokens` a request may ask for. Default 4096. */
  maxTokensLimit?: number;
  /** Most `stop_sequences` per request. Default 4. */
  maxStopSequences?: number;
  /** Longest single stop sequence, in characters. Default 64. */
  maxStopChars?: number;
  /** Most entries in `messages`. Default 64. */
  maxChatMessages?: number;
  /** Most characters in `system` and the messages' texts, all together. Default 32 768. */
  maxChatChars?: number;
  /** Most content blocks in one message (or in `system`). Default 64. */
  maxContentBlocks?: number;
  /** Most `tools` per request. Default 128. */
  maxTools?: number;
  /** Largest request body, in bytes. Default: the node's `limits.maxMessageBytes`. */
  maxBodyBytes?: number;
  defaults?: AnthropicDefaults;
}

const integer = (min: number) => {
  const error = `expected an integer ≥ ${min}`;
  return z.int({ error }).min(min, { error });
};
const TEMPERATURE = "expected a number from 0 to 1";
const TOP_P = "expected a number more than 0 and at most 1";

/** Sampling defaults' rules, in Anthropic's ranges (temperature at most 1). */
export const anthropicDefaultsSchema = z.strictObject({
  temperature: z.number({ error: TEMPERATURE }).min(0, { error: TEMPERATURE }).max(1, { error: TEMPERATURE }).optional(),
  topP: z.number({ error: TOP_P }).gt(0, { error: TOP_P }).max(1, { error: TOP_P }).optional(),
  topK: integer(1).optional(),
});

/** The options' rules and defaults. Messages read "expected …", so that they fit after a field name. */
export const anthropicOptionsSchema = z.strictObject({
  maxTokensLimit: integer(1).default(GENERATION_LIMITS.maxTokensLimit),
  maxStopSequences: integer(0).default(GENERATION_LIMITS.maxStopSequences),
  maxStopChars: integer(1).default(GENERATION_LIMITS.maxStopChars),
  maxChatMessages: integer(1).default(GENERATION_LIMITS.maxChatMessages),
  maxChatChars: integer(1).default(GENERATION_LIMITS.maxChatChars),
  maxContentBlocks: integer(1).default(64),
  maxTools: integer(1).default(128),
  maxBodyBytes: integer(1).optional(),
  defaults: anthropicDefaultsSchema.prefault({}),
});

export type ResolvedAnthropicOptions = z.output<typeof anthropicOptionsSchema>;

export function resolveAnthropicOptions(options: AnthropicPluginOptions = {}): ResolvedAnthropicOptions {
  return parsePluginOptions("anthropicPlugin", anthropicOptionsSchema, options);
}

export const ANTHROPIC_COUNTERS: InjectionToken<AnthropicCounters> = Symbol("modelnode.anthropic-counters");
