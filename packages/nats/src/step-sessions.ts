/**
 * Legacy step sessions on the gateway: each is pinned to the worker holding its cache; when that
 * worker dies, the session's history is replayed on another one. A waiting step pings its worker
 * every `stepIdleMs`, and at once when the gateway suspects that worker gone (a goodbye, missed
 * heartbeats and no responders: liveness.ts), as a stream does.
 */
import { errors, isCodedError, type StepRequest, type StepResult } from "@modelnode/core/pipeline";
import type { Msg } from "@nats-io/transport-node";
import { decode, fromWire, type StepCall, type WireError } from "./protocol.js";
import { natsError } from "./gateway-link.js";
import { sleep } from "./gateway-options.js";
import type { GatewayParts } from "./gateway-parts.js";

interface StepSession {
  modelId: string;
  /** The worker holding the session's cache; undefined: none yet, or it was lost. */
  worker?: string;
  /** The steps run so far, replayed on another worker when this one is lost. */
  history: StepCall[];
  /** The step running now. */
  running?: number;
}

type StepReply = { ok: true; worker: string; result: StepResult } | { busy: true } | { error: WireError };

/** The worker stopped answering (or NATS is unreachable): the caller may go on elsewhere. */
class WorkerLost extends Error {}

export interface StepContext extends GatewayParts {
  /** A waiting step pings its worker this often. */
  stepIdleMs: number;
  /** After a lost step: how long "no worker now" is waited out (NATS or the workers coming back). */
  recoveryMs: number;
}

export class StepSessions {
  private readonly sessions = new Map<string, StepSession>();
  /** Per worker, what wakes the watchdogs of the steps waiting on it. */
  private readonly waiting = new Map<string, Set<() => void>>();

  constructor(private readonly ctx: StepContext) {}

  get size(): number {
    return this.sessions.size;
  }

  ids(): string[] {
    return [...this.sessions.keys()];
  }

  /** A worker is suspected gone: the steps waiting on it ping it now instead of after stepIdleMs. */
  workerSuspected(worker: string): void {
    for (const wake of this.waiting.get(worker) ?? []) wake();
  }

  /** The worker holding a session's cache now (undefined: none yet, or it was lost). */
  pinnedWorker(sessionId: string): string | undefined {
    return this.sessions.get(sessionId)?.worker;
  }

  async step(request: StepRequest): Promise<StepResult> {
    const { ctx } = this;
    if (request.signal?.aborted) throw errors.cancelled("The step was cancelled before it ran.");
    let session = this.sessions.get(request.sessionId);
    if (request.step !== 0) {
      if (!session) throw errors.sessionNotFound(request.sessionId);
      if (session.running !== undefined) throw errors.sessionBusy(request.sessionId, session.running);
      const last = session.history.length - 1;
      if (request.step !== last + 1) throw errors.stepOutOfOrder(request.sessionId, last + 1, request.step);
      if (request.modelId !== session.modelId) throw errors.invalidRequest("A session stays on the model it started with.", "model_id");
    } else if (session?.running !== undefined) {
      throw errors.sessionBusy(request.sessionId, session.running);
    }
    const call: StepCall = {
      sessionId: `${ctx.gatewayId}/${request.sessionId}`, modelId: request.modelId, step: request.step,
      inputIds: request.inputIds, ...(request.attentionMask ? { attentionMask: request.attentionMask } : {}),
    };
    if (request.step === 0) {
      session = { modelId: request.modelId, worker: session?.worker, history: [] };
      this.sessions.set(request.sessionId, session);
    }
    const s = session!;
    s.running = request.step;
    let recoverUntil = 0;
    try {
      for (let attempt = 1, waits = 0; ; attempt++) {
        ctx.retry.check(attempt - waits, "step");
        try {
          if (!s.worker || (request.step > 0 && !(await ctx.link.alive(s.worker)))) {
            // Not pinned, or its worker died: start on any worker, replaying the history first.
            if (s.worker) {
              ctx.log.warn({ session: request.sessionId, worker: s.worker }, "session's worker lost; replaying its history");
              ctx.picker.avoid(s.worker);
              ctx.counters.replays++;
            }
            s.worker = undefined;
            const calls = request.step === 0 ? [call] : [...s.history, call];
            let result: StepResult | undefined;
            for (const c of calls) result = await this.stepOn(c, s);
            s.history = [...s.history.filter((h) => h.step < call.step), call];
            return result!;
          }
          const result = await this.stepOn(call, s);
          s.history = [...s.history.filter((h) => h.step < call.step), call];
          return result;
        } catch (error) {
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
      if (request.step === 0 && s.history.length === 0) this.sessions.delete(request.sessionId);
    }
  }

  /**
   * One step on the session's worker; not pinned yet, on the least busy live worker (or, knowing
   * none, any through the queue group), pinning the one that answers.
   */
  private async stepOn(call: StepCall, s: StepSession): Promise<StepResult> {
    const { link, picker } = this.ctx;
    // A worker named, not the queue group, wherever one is known: it can be pinged about the step.
    const target = s.worker ?? picker.leastBusy(call.modelId);
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
        s.worker = undefined;
        throw error;
      }
      const coded = natsError(error, call.modelId);
      if (target) {
        if (target !== s.worker) picker.avoid(target);
        s.worker = undefined;
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
    s.worker = reply.worker;
    return { ...reply.result, sessionId: call.sessionId.slice(this.ctx.gatewayId.length + 1) };
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

  closeSession(sessionId: string): boolean {
    const s = this.sessions.get(sessionId);
    if (!s) return false;
    this.sessions.delete(sessionId);
    if (s.worker) this.ctx.link.publish(this.ctx.link.subjects.worker(s.worker, "close"), { sessionId: `${this.ctx.gatewayId}/${sessionId}` });
    return true;
  }
}
