/**
 * Ollama's `options` object and what each entry becomes on this node. Mapped to the pipeline's
 * sampling: temperature, top_p, top_k, min_p, seed, num_predict (max tokens; -1 and -2, "no
 * limit" and "fill the context", mean the plugin's maxTokensLimit), stop, repeat_penalty,
 * presence_penalty, frequency_penalty. Accepted and ignored, as Ollama itself treats them as
 * hints for loading the model (this node loads its models at startup, once): LOAD_TIME_OPTIONS.
 * Options that would change sampling in a way this node cannot follow are refused by name unless
 * they ask for what the node does anyway (repeat_last_n -1, typical_p 1, tfs_z 1, mirostat 0,
 * penalize_newline false); any other key is refused by name. See docs/plugin-ollama.md.
 */
import { z, type RequestedGeneration } from "@modelnode/core";
import type { ResolvedOllamaOptions } from "./options.js";

type Limits = Pick<ResolvedOllamaOptions, "maxTokensLimit" | "maxStopSequences" | "maxStopChars">;

/** Options Ollama reads when it loads a model (num_ctx, num_gpu, …): accepted (type-checked) and ignored here. */
export const LOAD_TIME_OPTIONS = ["num_ctx", "num_batch", "num_gpu", "main_gpu", "num_thread", "use_mmap", "use_mlock", "low_vram", "f16_kv", "vocab_only", "numa"] as const;

const numberIn = (what: string, check: (n: number) => boolean) => z.number({ error: `expected ${what}` }).refine(check, { error: `expected ${what}` });
const int = (what: string, check: (n: number) => boolean = () => true) => z.int({ error: `expected ${what}` }).refine(check, { error: `expected ${what}` });

/** Absent, null, or the value that leaves sampling as this node does it; anything else is refused with `message`. */
const onlyDefault = (accept: (value: unknown) => boolean, message: string) =>
  z.unknown().refine((value) => value === undefined || value === null || accept(value), { error: message }).optional();

const flag = () => z.boolean({ error: "expected true or false" }).nullish();
const count = () => int("an integer").nullish();
/** LOAD_TIME_OPTIONS, type-checked. */
const loadTime = {
  num_ctx: count(),
  num_batch: count(),
  num_gpu: count(),
  main_gpu: count(),
  num_thread: count(),
  use_mmap: flag(),
  use_mlock: flag(),
  low_vram: flag(),
  f16_kv: flag(),
  vocab_only: flag(),
  numa: flag(),
} satisfies Record<(typeof LOAD_TIME_OPTIONS)[number], z.ZodType>;

/** The `options` object of /api/generate and /api/chat. */
export function optionsSchema(limits: Limits) {
  const stopItem = `expected a string of 1 to ${limits.maxStopChars} characters`;
  return z.strictObject(
    {
      temperature: numberIn("a number from 0 to 2", (n) => n >= 0 && n <= 2).nullish(),
      top_p: numberIn("a number more than 0 and at most 1", (n) => n > 0 && n <= 1).nullish(),
      top_k: int("an integer ≥ 0", (n) => n >= 0).nullish(),
      min_p: numberIn("a number from 0 to 1", (n) => n >= 0 && n <= 1).nullish(),
      seed: int("an integer").nullish(),
      num_predict: int(`-1, -2 or an integer from 1 to ${limits.maxTokensLimit}`, (n) => n === -1 || n === -2 || (n >= 1 && n <= limits.maxTokensLimit)).nullish(),
      stop: z
        .array(z.string({ error: stopItem }).min(1, { error: stopItem }).max(limits.maxStopChars, { error: stopItem }), { error: "expected an array of strings" })
        .max(limits.maxStopSequences, { error: `expected at most ${limits.maxStopSequences} stop sequences` })
        .nullish(),
      repeat_penalty: numberIn("a number more than 0 and at most 2", (n) => n > 0 && n <= 2).nullish(),
      presence_penalty: numberIn("a number from -2 to 2", (n) => n >= -2 && n <= 2).nullish(),
      frequency_penalty: numberIn("a number from -2 to 2", (n) => n >= -2 && n <= 2).nullish(),
      repeat_last_n: onlyDefault((v) => v === -1, "only -1 is supported: the penalties here look at the whole prompt and generation"),
      typical_p: onlyDefault((v) => v === 1, "not supported: only 1 (off) is accepted"),
      tfs_z: onlyDefault((v) => v === 1, "not supported: only 1 (off) is accepted"),
      mirostat: onlyDefault((v) => v === 0, "not supported: only 0 (off) is accepted"),
      mirostat_tau: onlyDefault(() => false, "not supported: this node has no mirostat sampling"),
      mirostat_eta: onlyDefault(() => false, "not supported: this node has no mirostat sampling"),
      penalize_newline: onlyDefault((v) => v === false, "not supported: only false is accepted"),
      num_keep: onlyDefault(() => false, "not supported: this node never shifts the context (a prompt too long is refused)"),
      ...loadTime,
    },
    {
      error: (issue) =>
        issue.code === "unrecognized_keys"
          ? `unknown option${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((key) => `"${key.slice(0, 64)}"`).join(", ")} (see docs/plugin-ollama.md for those this node takes)`
          : "expected an object of options",
    },
  );
}

export type OllamaOptions = z.output<ReturnType<typeof optionsSchema>>;

/** The pipeline's sampling fields for an `options` object (absent fields stay absent: the defaults apply). */
export function samplingOf(options: OllamaOptions | null | undefined, limits: Pick<ResolvedOllamaOptions, "maxTokensLimit">): Omit<RequestedGeneration, "modelId"> {
  if (!options) return {};
  const { num_predict: numPredict } = options;
  return {
    temperature: options.temperature,
    topP: options.top_p,
    topK: options.top_k,
    minP: options.min_p,
    seed: options.seed,
    maxTokens: numPredict === undefined || numPredict === null ? undefined : numPredict < 0 ? limits.maxTokensLimit : numPredict,
    stop: options.stop ?? undefined,
    repetitionPenalty: options.repeat_penalty,
    presencePenalty: options.presence_penalty,
    frequencyPenalty: options.frequency_penalty,
  };
}
