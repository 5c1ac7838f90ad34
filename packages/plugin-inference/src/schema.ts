/** inference_request, inference_cancel and list_models payloads, typed strictly: nothing is coerced. */
import { z } from "@modelnode/core";
import type { ResolvedInferenceOptions } from "./options.js";

/** Longest `role` in `messages`, in characters. */
export const MAX_ROLE_CHARS = 64;

/**
 * inference_request: `prompt` or `messages` (exactly one; the other, or neither, is
 * VALIDATION_FAILED naming the field), the sampling fields and `stream`.
 */
export function inferenceRequestSchema(limits: Omit<ResolvedInferenceOptions, "defaults">) {
  const stopText = z.string().min(1).max(limits.maxStopChars);
  const chatMessage = z.object({
    role: z.string().min(1).max(MAX_ROLE_CHARS),
    content: z.string().max(limits.maxChatChars),
  });
  return z
    .object({
      model_id: z.string().min(1).max(256),
      prompt: z.string().min(1).max(limits.maxPromptChars).optional(),
      messages: z.array(chatMessage).min(1).max(limits.maxChatMessages).optional(),
      max_tokens: z.int().min(1).max(limits.maxTokensLimit).optional(),
      temperature: z.number().min(0).max(2).optional(),
      top_p: z.number().gt(0).max(1).optional(),
      top_k: z.int().min(0).optional(),
      seed: z.int().min(0).optional(),
      stop: z.union([stopText, z.array(stopText).max(limits.maxStopSequences)]).optional(),
      stream: z.boolean().optional(),
    })
    .superRefine((msg, ctx) => {
      // zod runs this even when a field failed: a field that failed is still present here.
      if (msg.prompt !== undefined && msg.messages !== undefined) {
        ctx.addIssue({ code: "custom", path: ["messages"], message: "Give either prompt or messages, not both." });
      } else if (msg.prompt === undefined && msg.messages === undefined) {
        ctx.addIssue({ code: "custom", path: ["prompt"], message: "Give prompt (a text) or messages (a chat)." });
      } else if (Array.isArray(msg.messages)) {
        let chars = 0;
        for (const message of msg.messages) chars += typeof message?.content === "string" ? message.content.length : 0;
        if (chars > limits.maxChatChars) {
          ctx.addIssue({ code: "custom", path: ["messages"], message: `The contents of messages exceed ${limits.maxChatChars} characters in all.` });
        }
      }
    });
}

export type InferenceRequest = z.infer<ReturnType<typeof inferenceRequestSchema>>;

/** inference_cancel: the message_id of an inference_request in flight on this connection. */
export const inferenceCancelSchema = z.object({
  target_message_id: z.string().min(1).max(256),
});

export type InferenceCancel = z.infer<typeof inferenceCancelSchema>;

export interface InferenceCancelResponse {
  target_message_id: string;
  /** Always true: a cancel that finds nothing to cancel is a REQUEST_NOT_FOUND error instead. */
  cancelled: true;
}

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
  models: { id: string; context_length: number; vocab_size: number; description?: string; has_chat_template?: boolean; alias_of?: string }[];
}
