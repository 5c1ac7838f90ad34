/** What both ends of a legacy step agree on: how its text is encoded, and how a cancelled one fails. */
import { errors, type ProtocolError } from "@modelnode/core/pipeline";
import { clip } from "../shared/clip.js";

/** A step's text is encoded before it reaches the engine: step 0 with the special tokens a prompt gets, later steps without. */
export function stepAddsSpecialTokens(step: number): boolean {
  return step === 0;
}

/** CANCELLED, for a step cancelled before it ran (on the main thread while it was encoded, or in the engine). */
export function stepCancelled(sessionId: string, step: number): ProtocolError {
  return errors.cancelled(`Step ${step} of session "${clip(sessionId)}" was cancelled.`);
}
