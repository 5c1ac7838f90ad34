/** The legacy message, typed strictly: nothing is coerced ("step": "1" is VALIDATION_FAILED). */
import { z } from "@modelnode/core";
import type { ResolvedLegacyOptions } from "./options.js";

export function legacyMessageSchema(limits: Pick<ResolvedLegacyOptions, "maxInputTokens" | "maxInputChars" | "maxSessionIdLength">) {
  const tokenIds = z.array(z.int().nonnegative()).min(1).max(limits.maxInputTokens);
  const text = z.string().min(1).max(limits.maxInputChars);
  return z
    .object({
      session_id: z.string().min(1).max(limits.maxSessionIdLength),
      step: z.int().nonnegative(),
      /** Not in the field's format: lets a client pick a model on a node serving several. */
      model_id: z.string().min(1).max(256).optional(),
      input_tensors: z.object({
        input_ids: z.union([tokenIds, text]),
        attention_mask: z
          .array(z.union([z.literal(0), z.literal(1)]))
          .max(limits.maxInputTokens)
          .optional(),
      }),
    })
    .superRefine((msg, ctx) => {
      const { input_ids: ids, attention_mask: mask } = msg.input_tensors;
      // With text, the node tokenizes and masks it itself; a mask sent beside text (its length
      // cannot match tokens the client never saw) is ignored rather than refused, so field
      // clients that always send one keep working.
      if (mask === undefined || typeof ids === "string") return;
      if (mask.length !== ids.length) {
        ctx.addIssue({
          code: "custom",
          path: ["input_tensors", "attention_mask"],
          message: `attention_mask has ${mask.length} entries but input_ids has ${ids.length}`,
        });
      }
    });
}

export type LegacyMessage = z.infer<ReturnType<typeof legacyMessageSchema>>;

/**
 * What a successful step sends back (see docs/plugin-legacy.md): declared as the handler's
 * replySchema, so the AsyncAPI document describes it and the compiler and the tests hold the
 * handler to it.
 */
export const legacyStepReplySchema = z.object({
  session_id: z.string().describe("The request's."),
  step: z.int().min(0).describe("The request's."),
  output_tensors: z.object({
    next_token_id: z.int().min(0).describe("The model's greedy (argmax) next token after this step's input; send it as input_ids in step n + 1."),
    next_token: z.string().describe("That token's text (may be a fragment of a word or of a character)."),
    sequence_length: z.int().min(0).describe("Tokens the session holds after this step (prompt + every step's input)."),
    input_ids: z.array(z.int().min(0)).describe("The ids this step consumed: the tokenisation of a string input_ids, or the ids as sent."),
    is_eos: z.boolean().describe("Whether next_token_id is the model's end-of-sequence token."),
  }),
});

export type LegacyStepReply = z.infer<typeof legacyStepReplySchema>;
