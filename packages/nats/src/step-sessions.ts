/**
 * Legacy step sessions on the gateway: each is pinned to the worker holding its cache; when that
 * worker dies, the session's history is replayed on another one. A waiting step pings its worker
 * every `stepIdleMs`, and at once when the gateway suspects that worker gone (a goodbye, missed
 * heartbeats and no responders: liveness.ts), as a stream does.
 *
 * The sessions are kept in a SessionStore (session-store.ts): this gateway's memory by default,
 * or a JetStream key-value bucket shared by several gateways, so that a session goes on at
 * another gateway after its own died. SessionCopies (session-copies.ts) keeps this gateway's
 * copies in step with the store: one read for a session not known here, one write per step.
 */
import { errors, isCodedError, type StepRequest, type StepResult } from "@modelnode/core/pipeline";
import type { Msg } from "@nats-io/transport-node";
import { decode, fromWire, type StepCall, type WireError } from "./protocol.js";
import { natsError } from "./gateway-link.js";
import { sleep } from "./gateway-options.js";
import type { GatewayParts } from "./gateway-parts.js";
import type { SessionRecord, SessionStore } from "./session-store.js";
import { SessionCopies, type LocalSession } from "./session-copies.js";

type StepReply = { ok: true; worker: string; result: StepResult } | { busy: true } | { error: WireError };

/** The worker stopped answering (or NATS is unreachable): the caller may go on elsewhere. */
class WorkerLost extends Error {}

export interface StepContext extends GatewayParts {
  /** A waiting step pings its worker this often. */
  stepIdleMs: number;
  /** After a lost step: how long "no worker now" is waited out (NATS or the workers coming back). */
  recoveryMs: number;
  store: SessionStore;
}

export class StepSessions {
  private readonly sessions: SessionCopies;
  /** Per worker, what wakes the watchdogs of the steps waiting on it. */
  private readonly waiting = new Map<string, Set<() => void>>();

  constructor(private readonly ctx: StepContext) {
    this.sessions = new SessionCopies(ctx.store, ctx.log);
  }

  get size(): number {
    return this.sessions.size;
  }

  ids(): string[] {
    return this.sessions.ids();
  }

  /** A worker is suspected gone: the steps waiting on it ping it now instead of after stepIdleMs. */
  workerSuspected(worker: string): void {
    for (const wake of this.waiting.get(worker) ?? []) wake();
  }

  /** The worker holding a session's cache now (undefined: none yet, it was lost, or the session is not known here). */
  pinnedWorker(sessionId: string): string | undefined {
    return this.sessions.get(sessionId)?.record.worker;
  }

  async step(request: StepRequest): Promise<StepResult> {
    const { ctx } = this;
    if (request.signal?.aborted) throw errors.cancelled("The step was cancelled before it ran.");
    let local = this.sessions.get(request.sessionId);
    if (local?.running !== undefined) throw errors.sessionBusy(request.sessionId, local.running);
    // Not known here, or another gateway ran steps of it since: the shared store has it.
    if (ctx.store.shared && (!local || (request.step !== 0 && request.step !== local.record.history.length))) {
      local = await this.sessions.load(request.sessionId);
    }
    if (request.step !== 0) {
      if (!local) throw errors.sessionNotFound(request.sessionId);
      const next = local.record.history.length;
      if (request.step !== next) throw errors.stepOutOfOrder(request.sessionId, next, request.step);
      if (request.modelId !== local.record.modelId) throw errors.invalidRequest("A session stays on the model it started with.", "model_id");
    }
    // Step 0 (re)starts the session: its worker-side id and worker stay (that worker may still hold a cache to reuse).
    const s: LocalSession = local ?? { record: { modelId: request.modelId, workerSessionId: `${ctx.gatewayId}/${request.sessionId}`, history: [] }, revision: 0, usedAt: 0 };
    if (request.step === 0) s.record = { modelId: request.modelId, workerSessionId: s.record.workerSessionId, worker: s.record.worker, history: [] };
    this.sessions.set(request.sessionId, s);
    const call: StepCall = {
      sessionId: s.record.workerSessionId, modelId: request.modelId, step: request.step,
      inputIds: request.inputIds, ...(request.attentionMask ? { attentionMask: request.attentionMask } : {}),
    };
    s.running = request.step;
    s.usedAt = Date.now();
    let recoverUntil = 0;
    // The pinned worker's cache does not match the history (a gateway died between a step and its write): replay there.
    let replayOnPinned = false;
    // A worker that lost the session: this copy may be stale (the record read again once).
    let refreshed = false;
    try {
      let result: StepResult | undefined;
      let onCache = true;
      for (let attempt = 1, waits = 0; result === undefined; attempt++) {
        ctx.retry.check(attempt - waits, "step");
        try {
          const pinned = s.record.worker;
          if (pinned && request.step > 0 && !replayOnPinned && !(await ctx.link.alive(pinned))) {
            ctx.log.warn({ session: request.sessionId, worker: pinned }, "session's worker lost; replaying its history");
            ctx.picker.avoid(pinned);
            ctx.counters.replays++;
            s.record.worker = undefined;
          }
          if (!s.record.worker || replayOnPinned) {
            // Not pinned, its worker died, or its cache is off: start anew, replaying the history first.
            onCache = request.step === 0;
            const calls = request.step === 0 ? [call] : [...s.record.history, call];
            let last: StepResult | undefined;
            for (const c of calls) last = await this.stepOn(c, s);
            result = last;
          } else {
            result = await this.stepOn(call, s);
          }
        } catch (error) {
          if (isCodedError(error) && error.code === "SESSION_NOT_FOUND" && request.step > 0 && !refreshed) {
            refreshed = true;
            if (await this.sessions.refresh(request.sessionId, s)) {
              if (request.step !== s.record.history.length) throw errors.stepOutOfOrder(request.sessionId, s.record.history.length, request.step);
              call.sessionId = s.record.workerSessionId;
              continue;
            }
          }
          if (isCodedError(error) && error.code === "STEP_OUT_OF_ORDER" && request.step > 0 && s.record.worker && !replayOnPinned) {
            ctx.log.warn({ session: request.sessionId, worker: s.record.worker }, "session's worker holds another step than its history; replaying it there");
            ctx.counters.replays++;
            replayOnPinned = true;
            continue;
          }
          // While NATS or the workers come back (recoveryMs after a lost step), no worker is not final.
          if (!(error instanceof WorkerLost) && !(isCodedError(error) && error.code === "BUSY" && Date.now() < recoverUntil)) throw error;
          if (error instanceof WorkerLost) {
            ctx.counters.workerFailures++;
            recoverUntil = Date.now() + ctx.recoveryMs;
          } else {
            waits++;
            await ctx.link.reconnected(recoverUntil - Date.now());
            await sleep(200);
          }
        }
      }
      // Written once the step ran (a failed write is the step's failure: the worker is not asked again).
      await this.sessions.save(request, s, call, onCache);
      return { ...result, sessionId: request.sessionId };
    } finally {
      s.running = undefined;
      s.usedAt = Date.now();
      if (request.step === 0 && s.record.history.length === 0 && this.sessions.get(request.sessionId) === s) this.sessions.forget(request.sessionId, s);
    }
  }

  /**
   * One step on the session's worker; not pinned yet, on the least busy live worker (or, knowing
   * none, any through the queue group), pinning the one that answers.
   */
  private async stepOn(call: StepCall, s: LocalSession): Promise<StepResult> {
    const { link, picker } = this.ctx;
    // A worker named, not the queue group, wherever one is known: it can be pinged about the step.
    const target = s.record.worker ?? picker.leastBusy(call.modelId);
    const subject = target ? link.subjects.worker(target, "step") : link.subjects.step(call.modelId);
    const ask = link.ask(subject, call, 24 * 3600_000);
    // The step may wait behind generations on its worker: ping it meanwhile instead of timing out.
    // The ping names the step: a worker that no longer has it (the request or the reply was lost
    // with a NATS server) counts as lost too, and the history is replayed.
    let settled = false;
    const epoch = link.epoch;
    const nap = this.napper(target);
    const watchdog = (async () => {
      while (!settled) {
        await nap.sleep();
        if (settled) continue;
        if (!target) {
          // Through the queue group (step 0, which starts the session anew): after a reconnect, ask again.
          if (link.epoch !== epoch) return "lost" as const;
          continue;
        }
        if (!(await link.alive(target, { session: call.sessionId, step: call.step }))) return "lost" as const;
      }
      return "done" as const;
    })();
    let msg: Msg;
    try {
      const raced = await Promise.race([ask, watchdog]);
      if (raced === "lost") throw new WorkerLost();
      msg = raced as Msg;
    } catch (error) {
      if (error instanceof WorkerLost) {
        s.record.worker = undefined;
        throw error;
      }
      const coded = natsError(error, call.modelId);
      if (target) {
        if (target !== s.record.worker) picker.avoid(target);
        s.record.worker = undefined;
        throw new WorkerLost(); // no responders on its own subject: gone
      }
      throw coded;
    } finally {
      settled = true;
      nap.stop();
    }
    const reply = decode<StepReply>(msg.data);
    if ("error" in reply) throw fromWire(reply.error);
    if ("busy" in reply) {
      await this.ctx.retry.afterBusyStep();
      throw new WorkerLost();
    }
    s.record.worker = reply.worker;
    return reply.result;
  }

  /** A step's watchdog naps: stepIdleMs, cut short when `worker` is suspected gone; stop() ends the nap and forgets it. */
  private napper(worker: string | undefined): { sleep(): Promise<void>; stop(): void } {
    let wake = () => {};
    let timer: NodeJS.Timeout | undefined;
    const wakers = worker === undefined ? undefined : this.waiting.get(worker) ?? new Set<() => void>();
    if (worker !== undefined) this.waiting.set(worker, wakers!);
    const onSuspect = () => wake();
    wakers?.add(onSuspect);
    return {
      sleep: () =>
        new Promise<void>((resolve) => {
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
          timer = setTimeout(wake, this.ctx.stepIdleMs);
        }),
      stop: () => {
        wake();
        wakers?.delete(onSuspect);
        if (worker !== undefined && wakers?.size === 0) this.waiting.delete(worker);
      },
    };
  }

  /** Ends a session: its record, and its cache on the worker. True if this gateway knew it (a shared store's is ended all the same). */
  closeSession(sessionId: string): boolean {
    const s = this.sessions.get(sessionId);
    this.sessions.forget(sessionId, s, (record) => this.closeOnWorker(record));
    return s !== undefined;
  }

  /** The gateway closes: with a shared store, its sessions go on at the other gateways (only the copies go). */
  close(): void {
    if (this.ctx.store.shared) this.sessions.clear();
    else for (const id of this.sessions.ids()) this.closeSession(id);
    this.sessions.stop();
  }

  private closeOnWorker(record: SessionRecord): void {
    const { link } = this.ctx;
    if (record.worker) link.publish(link.subjects.worker(record.worker, "close"), { sessionId: record.workerSessionId });
  }
}
