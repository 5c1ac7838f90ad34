/**
 * Legacy step sessions on the gateway: each is pinned to the worker holding its cache; when that
 * worker dies, the session's history is replayed on another one.
 *
 * The sessions are kept in a SessionStore (session-store.ts): this gateway's memory by default,
 * or a JetStream key-value bucket shared by several gateways, so that a session goes on at
 * another gateway after its own died. A gateway keeps a local copy of the sessions it runs: the
 * store is read only for a session not known here (or one whose next step says another gateway
 * ran steps since), and written once after each step, compare-and-set on its revision.
 */
import { errors, isCodedError, type StepRequest, type StepResult } from "@modelnode/core/pipeline";
import type { Msg } from "@nats-io/transport-node";
import { decode, fromWire, type StepCall, type WireError } from "./protocol.js";
import { natsError } from "./gateway-link.js";
import { sleep } from "./gateway-options.js";
import type { GatewayParts } from "./gateway-parts.js";
import { SessionConflict, type SessionRecord, type SessionStore } from "./session-store.js";

/** This gateway's copy of a session: the stored record and revision, and the step running here. */
interface LocalSession {
  record: SessionRecord;
  /** The store's revision of `record` (0: not stored yet). */
  revision: number;
  /** The step running now. */
  running?: number;
  usedAt: number;
}

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
  private readonly sessions = new Map<string, LocalSession>();
  private readonly sweeper?: NodeJS.Timeout;

  constructor(private readonly ctx: StepContext) {
    const ttl = ctx.store.ttlMs;
    // The store forgets idle sessions after ttlMs; so does this gateway's copy (a quarter of it late at most).
    if (ttl !== undefined) this.sweeper = setInterval(() => this.forgetIdle(ttl), Math.max(1000, Math.min(ttl / 4, 30_000))).unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  ids(): string[] {
    return [...this.sessions.keys()];
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
      local = await this.load(request.sessionId);
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
    try {
      for (let attempt = 1, waits = 0; ; attempt++) {
        ctx.retry.check(attempt - waits, "step");
        try {
          const pinned = s.record.worker;
          if (pinned && request.step > 0 && !replayOnPinned && !(await ctx.link.alive(pinned))) {
            ctx.log.warn({ session: request.sessionId, worker: pinned }, "session's worker lost; replaying its history");
            ctx.picker.avoid(pinned);
            ctx.counters.replays++;
            s.record.worker = undefined;
          }
          let result: StepResult | undefined;
          if (!s.record.worker || replayOnPinned) {
            // Not pinned, its worker died, or its cache is off: start anew, replaying the history first.
            const calls = request.step === 0 ? [call] : [...s.record.history, call];
            for (const c of calls) result = await this.stepOn(c, s);
          } else {
            result = await this.stepOn(call, s);
          }
          await this.save(request, s, call);
          return { ...result!, sessionId: request.sessionId };
        } catch (error) {
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
    } finally {
      s.running = undefined;
      s.usedAt = Date.now();
      if (request.step === 0 && s.record.history.length === 0 && this.sessions.get(request.sessionId) === s) this.forget(request.sessionId, s, false);
    }
  }

  /** Reads a session from the store into this gateway's copy (undefined: the store has none). */
  private async load(sessionId: string): Promise<LocalSession | undefined> {
    let stored;
    try {
      stored = await this.ctx.store.get(sessionId);
    } catch (error) {
      throw storeError("read", error);
    }
    const now = this.sessions.get(sessionId); // a step of it may have come meanwhile
    if (now?.running !== undefined) throw errors.sessionBusy(sessionId, now.running);
    if (!stored) {
      this.sessions.delete(sessionId);
      return undefined;
    }
    const local: LocalSession = { record: stored.record, revision: stored.revision, usedAt: Date.now() };
    this.sessions.set(sessionId, local);
    return local;
  }

  /**
   * After a step: the history with it, written to the store. Not written, the step counts as
   * failed and the history stays (a retry finds the worker a step ahead, and replays there).
   */
  private async save(request: StepRequest, s: LocalSession, call: StepCall): Promise<void> {
    if (this.sessions.get(request.sessionId) !== s) return; // closed (or restarted) meanwhile
    const record: SessionRecord = { ...s.record, history: [...s.record.history.filter((h) => h.step < call.step), call] };
    try {
      s.revision = await this.ctx.store.put(request.sessionId, record, s.revision);
    } catch (error) {
      if (error instanceof SessionConflict) {
        // Another gateway ran a step of it meanwhile: its record wins; this gateway's copy is stale.
        this.sessions.delete(request.sessionId);
        throw errors.sessionBusy(request.sessionId, request.step);
      }
      throw storeError("written", error);
    }
    s.record = record;
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
    const watchdog = (async () => {
      while (!settled) {
        await sleep(this.ctx.stepIdleMs);
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

  /** Ends a session: its record, and its cache on the worker. True if this gateway knew it (a shared store's is ended all the same). */
  closeSession(sessionId: string): boolean {
    const s = this.sessions.get(sessionId);
    this.forget(sessionId, s, true);
    return s !== undefined;
  }

  /** Drops this gateway's copies only: for a shared store, when the gateway closes (the sessions go on elsewhere). */
  forgetAll(): void {
    this.sessions.clear();
    if (this.sweeper) clearInterval(this.sweeper);
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  private forget(sessionId: string, s: LocalSession | undefined, closeOnWorker: boolean): void {
    this.sessions.delete(sessionId);
    const { ctx } = this;
    const closeOn = (record: SessionRecord | undefined) => {
      if (closeOnWorker && record?.worker) ctx.link.publish(ctx.link.subjects.worker(record.worker, "close"), { sessionId: record.workerSessionId });
    };
    closeOn(s?.record);
    // Nothing stored: a session not known here in a gateway's own memory, or a first step that failed.
    if ((!s && !ctx.store.shared) || s?.revision === 0) return;
    void (async () => {
      // Not known here: another gateway ran it; the stored record names its worker.
      if (!s && closeOnWorker) closeOn((await ctx.store.get(sessionId))?.record);
      await ctx.store.delete(sessionId);
    })().catch((error) => ctx.log.warn({ session: sessionId, err: String(error) }, "session store: could not delete a session"));
  }

  private forgetIdle(ttlMs: number): void {
    const before = Date.now() - ttlMs;
    for (const [id, s] of this.sessions) if (s.running === undefined && s.usedAt < before) this.sessions.delete(id);
  }
}

function storeError(what: "read" | "written", error: unknown) {
  return errors.busy(`The session store could not be ${what} now; try the step again. (${(error as Error)?.message ?? error})`, { reason: "session_store" });
}
