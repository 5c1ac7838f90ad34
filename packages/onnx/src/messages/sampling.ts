/**
 * Sampling settings as they travel: the main thread resolves a request's (main/request-settings.ts)
 * and sends them with the generation; the engine thread reports each model's defaults when ready.
 */

/**
 * How the next token is chosen (engine/sampler.ts, engine/logit-processors.ts). The optional
 * fields are absent when off, so a plain row carries (and costs) nothing for them.
 */
export interface SamplerSettings {
  /** 0 = greedy. */
  temperature: number;
  /** 0 = no top-k cut. */
  topK: number;
  /** 1 = no nucleus cut. */
  topP: number;
  seed: number;
  /** Drop tokens below minP × the likeliest token's probability; absent = off. */
  minP?: number;
  /** OpenAI's presence and frequency penalties over the generated tokens; absent = off. */
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** Hugging Face's repetition penalty over prompt and generated tokens; absent = off (1). */
  repetitionPenalty?: number;
  /** [token id, bias] pairs added to the logits; absent = none. */
  logitBias?: [number, number][];
  /** Report the chosen token's log probability and this many alternatives'; absent = none. */
  logprobs?: number;
}

/** A request's sampling options, checked and with the defaults filled in. */
export interface ResolvedSampling {
  maxTokens: number;
  stop: string[];
  sampling: SamplerSettings;
  /** The request's `speculative` (false: never guess); absent: the node's default. */
  speculative?: boolean;
}

/**
 * Sampling defaults from generation_config.json (only when it sets do_sample: true, as Hugging
 * Face's generate() ignores temperature / top_p / top_k otherwise): for requests that give none.
 */
export interface SamplingDefaults {
  temperature?: number;
  topP?: number;
  topK?: number;
}
