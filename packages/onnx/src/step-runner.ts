/**
 * One step of the legacy protocol. Step 0 starts (or restarts) a session with the whole prompt;
 * step n > 0 must follow step n - 1 of an existing session and feeds only the new tokens, reusing
 * the session's KV cache. Every step returns the greedy next token.
 */
import { PipelineError, type StepRequest, type StepResult } from "@modelnode/core";
import type { LoadedModel } from "./loaded-model.js";
import type { ResolvedOptions } from "./options.js";
import { checkAttentionMask, checkContext, checkTokenIds } from "./request-settings.js";
import { argmax } from "./sampler.js";
import { AbortedError, type RunQueue } from "./scheduler.js";
import type { Sequence } from "./sequence.js";
import type { StepSession, StepSessionStore } from "./step-sessions.js";

export interface StepContext {
  options: ResolvedOptions;
  runQueue: RunQueue;
  sessions: StepSessionStore;
  model(modelId: string): LoadedModel;
  openSequence(model: LoadedModel): Sequence;
  releaseSequence(sequence: Sequence): void;
  /** Evicts idle sessions (never `keep`) until `bytes` more cache fit; false when they cannot. */
  makeRoom(bytes: number, keep?: StepSession): boolean;
}

export async function runStep(ctx: StepContext, request: StepRequest, signal: AbortSignal): Promise<StepResult> {
  const model = ctx.model(request.modelId);
  if (!Number.isInteger(request.step) || request.step < 0) {
    throw new PipelineError("INVALID_REQUEST", "step must be an integer ≥ 0", { field: "step" });
  }
  if (signal.aborted) throw cancelled(request);
  const existing = ctx.sessions.get(request.sessionId);
  if (existing?.busy) {
    throw new PipelineError("SESSION_BUSY", `session "${request.sessionId}" is still running step ${existing.lastStep + 1}`);
  }

  let session: StepSession;
  let ids: number[];
  if (request.step === 0) {
    ids = inputIds(model, request.inputIds, true);
    checkContext(model, 0, ids.length);
    session = existing && existing.sequence.model === model ? existing : replaceSession(ctx, request.sessionId, model, existing);
    session.sequence.reset();
    session.lastStep = -1; // until this step succeeds, no step n > 0 may follow
  } else {
    if (!existing) {
      throw new PipelineError("SESSION_NOT_FOUND", `no session "${request.sessionId}" (expired, closed or never started with step 0)`);
    }
    session = existing;
    if (session.sequence.model !== model) {
      throw new PipelineError("INVALID_REQUEST", `session "${session.id}" runs model "${session.sequence.model.id}", not "${model.id}"`);
    }
    if (request.step !== session.lastStep + 1) {
      throw new PipelineError("STEP_OUT_OF_ORDER", `session "${session.id}" expects step ${session.lastStep + 1}, got ${request.step}`, {
        expected: session.lastStep + 1,
        received: request.step,
      });
    }
    ids = inputIds(model, request.inputIds, false);
    checkContext(model, session.sequence.length, ids.length);
  }
  const mask = checkAttentionMask(request.attentionMask, ids.length);
  const sequence = session.sequence;
  if (!ctx.makeRoom(sequence.cacheBytesAfter(ids.length) - sequence.cacheBytes, session)) {
    throw new PipelineError("TOO_MANY_SESSIONS", "the key/value cache memory limit is reached and no idle session can be evicted", {
      maxCacheBytes: ctx.options.maxCacheBytes,
    });
  }

  session.busy = true;
  const lengthBefore = sequence.length;
  let logits: Float32Array;
  try {
    logits = await sequence.forward(ids, { mask, signal });
  } catch (error) {
    // A failed step 0 built nothing usable, nor did a step that consumed only part of its input
    // (a long input runs in chunks); a step that failed before any run left the session as it was.
    const unusable = request.step === 0 || sequence.length !== lengthBefore;
    if (unusable && ctx.sessions.get(session.id) === session) ctx.sessions.delete(session.id);
    if (error instanceof AbortedError) throw cancelled(request);
    throw error;
  } finally {
    session.busy = false;
    ctx.sessions.touch(session);
  }
  session.lastStep = request.step;
  const nextTokenId = argmax(logits);
  return {
    sessionId: session.id,
    step: request.step,
    nextTokenId,
    nextTokenText: model.tokenizer.decode([nextTokenId], false),
    sequenceLength: sequence.length,
    inputIds: ids,
    isEos: model.eosTokenIds.has(nextTokenId),
  };
}

function replaceSession(ctx: StepContext, id: string, model: LoadedModel, existing: StepSession | undefined): StepSession {
  if (existing) ctx.sessions.delete(id);
  const sequence = ctx.openSequence(model);
  try {
    return ctx.sessions.create(id, sequence);
  } catch (error) {
    ctx.releaseSequence(sequence);
    throw error;
  }
}

function inputIds(model: LoadedModel, input: number[] | string, addSpecialTokens: boolean): number[] {
  if (typeof input === "string") {
    const ids = model.tokenizer.encode(input, addSpecialTokens);
    if (ids.length === 0) throw new PipelineError("INVALID_TOKENS", "the input text encodes to no tokens");
    return ids;
  }
  if (!Array.isArray(input)) throw new PipelineError("INVALID_TOKENS", "inputIds must be an array of token ids or a string");
  return checkTokenIds(model, input);
}

function cancelled(request: StepRequest): PipelineError {
  return new PipelineError("CANCELLED", `step ${request.step} of session "${request.sessionId}" was cancelled`);
}
