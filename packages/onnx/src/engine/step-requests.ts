/**
 * A legacy step request checked against its session: step 0 starts (or restarts) a session with
 * the whole prompt; step n > 0 must follow step n - 1 of an existing session of the same model
 * and feeds only the new tokens. Every refusal is a coded error (core's `errors.*`).
 */
import { errors } from "@modelnode/core/pipeline";
import type { EngineStepRequest } from "../messages/engine-protocol.js";
import { clip } from "../shared/clip.js";
import type { LoadedModel } from "./loaded-model.js";
import { checkAttentionMask, checkContext, checkTokenIds } from "./request-checks.js";
import type { StepSession, StepSessionStore } from "./step-sessions.js";

export interface CheckedStep {
  /** The session the step runs on (created for a new step 0). */
  session: StepSession;
  ids: number[];
  mask: number[] | undefined;
}

export function checkStep(request: EngineStepRequest, model: LoadedModel, sessions: StepSessionStore): CheckedStep {
  if (!Number.isInteger(request.step) || request.step < 0) {
    throw errors.invalidRequest("The step must be an integer of at least 0.", "step");
  }
  const existing = sessions.get(request.sessionId);
  if (existing?.busy) throw errors.sessionBusy(request.sessionId, existing.lastStep + 1);
  let session: StepSession;
  let ids: number[];
  if (request.step === 0) {
    ids = stepInputIds(model, request.inputIds);
    checkContext(model, 0, ids.length);
    checkAttentionMask(request.attentionMask, ids.length); // before a session is made for it
    if (existing && existing.model !== model) sessions.delete(existing.id);
    session = existing && existing.model === model ? existing : sessions.create(request.sessionId, model);
  } else {
    if (!existing) throw errors.sessionNotFound(request.sessionId);
    session = existing;
    if (session.model !== model) {
      throw errors.invalidRequest(`Session "${clip(session.id)}" runs model "${session.model.id}", not "${model.id}".`, "modelId");
    }
    if (request.step !== session.lastStep + 1) throw errors.stepOutOfOrder(session.id, session.lastStep + 1, request.step);
    ids = stepInputIds(model, request.inputIds);
    checkContext(model, session.length, ids.length);
  }
  return { session, ids, mask: checkAttentionMask(request.attentionMask, ids.length) };
}

function stepInputIds(model: LoadedModel, input: number[]): number[] {
  if (!Array.isArray(input)) throw errors.invalidTokens("The input must be an array of token ids or a string.");
  return checkTokenIds(model, input);
}
