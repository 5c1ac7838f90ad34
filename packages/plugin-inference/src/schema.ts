/** inference_request and list_models payloads, typed strictly: nothing is coerced. */
import { z } from "@modelnode/core";
import type { ResolvedInferenceOptions } from "./options.js";

export function inferenceRequestSchema(limits: Omit<ResolvedInferenceOptions, "defaults">) {
  const stopText = z.string().min(1).max(limits.maxStopChars);
  return z.object({
    model_id: z.string().min(1).max(256),
    prompt: z.string().min(1).max(limits.maxPromptChars),
    max_tokens: z.int().min(1).max(limits.maxTokensLimit).optional(),
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    top_k: z.int().min(0).optional(),
    seed: z.int().min(0).optional(),
    stop: z.union([stopText, z.array(stopText).max(limits.maxStopSequences)]).optional(),
    stream: z.boolean().optional(),
  });
}

export type InferenceRequest = z.infer<ReturnType<typeof inferenceRequestSchema>>;

/** list_models takes no fields (unknown ones are ignored). */
export const listModelsSchema = z.object({});

export interface InferenceResponse {
  model_id: string;
  text: string;
  finish_reason: "stop" | "length" | "cancelled";
  usage: { prompt_tokens: number; completion_tokens: number };
}

export interface InferenceChunk {
  model_id: string;
  /** 0, 1, 2 … in order of production. */
  index: number;
  text: string;
}

export interface ListModelsResponse {
  models: { id: string; context_length: number; vocab_size: number; description?: string }[];
}
