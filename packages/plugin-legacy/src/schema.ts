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

/** What a successful step sends back (see docs/plugin-legacy.md). */
export interface LegacyStepReply {
  session_id: string;
  step: number;
  output_tensors: {
    next_token_id: number;
    next_token: string;
    sequence_length: number;
    input_ids: number[];
    is_eos: boolean;
  };
}
