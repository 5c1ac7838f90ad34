/**
 * A request's token ids, attention mask and length checked against the model that runs it, on
 * the engine thread (which holds the model). Bad values are coded errors (core's `errors.*`).
 */
import { errors } from "@modelnode/core/pipeline";
import { checkVocabulary } from "../shared/token-ids.js";
import type { LoadedModel } from "./loaded-model.js";

export function checkTokenIds(model: LoadedModel, ids: readonly unknown[]): number[] {
  if (ids.length === 0) throw errors.invalidTokens("The input holds no token ids.");
  return checkVocabulary(model.id, model.signature.vocabSize, ids);
}

export function checkAttentionMask(mask: readonly unknown[] | undefined, length: number): number[] | undefined {
  if (mask === undefined) return undefined;
  if (!Array.isArray(mask) || mask.length !== length || mask.some((m) => m !== 0 && m !== 1)) {
    throw errors.invalidTokens(`The attention mask must be ${length} values, each 0 or 1 (one per input token).`);
  }
  return mask as number[];
}

export function checkContext(model: LoadedModel, held: number, adding: number): void {
  if (held + adding > model.contextLength) {
    throw errors.contextLengthExceeded(
      `This needs ${held + adding} tokens, more than the context length of model "${model.id}" (${model.contextLength}).`,
      { context_length: model.contextLength, tokens: held + adding },
    );
  }
}
