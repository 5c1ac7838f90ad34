/** Token ids a client sent, checked against a model's vocabulary (on the main thread for `detokenize`, on the engine's for inputs). */
import { errors } from "@modelnode/core/pipeline";
import { clip } from "./clip.js";

/** `ids` when each is an integer in [0, vocabSize); else INVALID_TOKENS naming the first that is not. */
export function checkVocabulary(modelId: string, vocabSize: number, ids: readonly unknown[]): number[] {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw errors.invalidTokens(
        `Token id ${clip(String(id), 24)} at index ${i} is not in the vocabulary of model "${modelId}" (an integer from 0 to ${vocabSize - 1}).`,
        { index: i },
      );
    }
  }
  return ids as number[];
}
