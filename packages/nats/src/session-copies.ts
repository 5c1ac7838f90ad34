/**
 * A gateway's copies of the legacy step sessions it runs, kept in step with its SessionStore
 * (session-store.ts): the store is read only for a session not known here (or one whose copy
 * turned out stale: another gateway ran steps since), and written once after each step,
 * compare-and-set on the revision the copy was read at. With the memory store the copies and the
 * store agree by construction; with a shared store a copy may fall behind, and a write from it
 * then loses (SessionConflict) unless the step it adds is still the stored record's next one.
 */
import { errors, isCodedError, type StepRequest } from "@modelnode/core/pipeline";
import type { MinimalLogger } from "./logger.js";
import type { StepCall } from "./protocol.js";
import { SessionConflict, type SessionRecord, type SessionStore } from "./session-store.js";

/** This gateway's copy of a session: the stored record and revision, and the step running here. */
export interface LocalSession {
  record: SessionRecord;
  /** The store's revision of `record` (0: not stored yet). */
  revision: number;
  /** The step running now. */
  running?: number;
  usedAt: number;
}

export class SessionCopies {
  private readonly sessions = new Map<string, LocalSession>();
  private readonly sweeper?: NodeJS.Timeout;

  constructor(
    readonly store: SessionStore,
    private readonly log: MinimalLogger,
  ) {
    const ttl = store.ttlMs;
    // The store forgets idle sessions after ttlMs; so do the copies (a quarter of it late at most).
    if (ttl !== undefined) this.sweeper = setInterval(() => this.forgetIdle(ttl), Math.max(1000, Math.min(ttl / 4, 30_000))).unref();
  }

  get size(): number {
    return this.sessions.size;
  }
  ids(): string[] {
    return [...this.sessions.keys()];
  }
  get(sessionId: string): LocalSession | undefined {
    return this.sessions.get(sessionId);
  }
  set(sessionId: string, s: LocalSession): void {
    this.sessions.set(sessionId, s);
  }

  /** Reads a session from the store into a copy (undefined: the store has none). */
  async load(sessionId: string): Promise<LocalSession | undefined> {
    const stored = await this.read(sessionId);
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

  /** Re-reads a running session's record into its copy; true if the store had a newer one. */
  async refresh(sessionId: string, s: LocalSession): Promise<boolean> {
    if (!this.store.shared) return false;
    const stored = await this.read(sessionId);
    if (!stored || stored.revision === s.revision) return false;
    s.record = stored.record;
    s.revision = stored.revision;
    return true;
  }

  /**
   * After a step: the history with it, written to the store. Not written, the step counts as
   * failed and the history stays (a retry finds the worker a step ahead, and replays there).
   * `onCache`: the step ran on the worker's cache as it was (no replay from this copy's history).
   */
  async save(request: StepRequest, s: LocalSession, call: StepCall, onCache: boolean): Promise<void> {
    if (this.sessions.get(request.sessionId) !== s) return; // closed (or restarted) meanwhile
    const withStep = (r: SessionRecord): SessionRecord => ({ ...r, worker: s.record.worker, history: [...r.history.filter((h) => h.step < call.step), call] });
    const lost = () => {
      // Another gateway ran this step (or restarted the session) meanwhile: its record wins.
      this.sessions.delete(request.sessionId);
      return errors.sessionBusy(request.sessionId, request.step);
    };
    try {
      try {
        const record = withStep(s.record);
        s.revision = await this.store.put(request.sessionId, record, s.revision);
        s.record = record;
      } catch (error) {
        if (!(error instanceof SessionConflict)) throw error;
        // The copy was stale. If the stored record expects this very step on this worker's cache, the step continues it.
        const fresh = await this.store.get(request.sessionId);
        const fits = onCache && fresh && fresh.record.history.length === call.step && fresh.record.worker === s.record.worker && fresh.record.workerSessionId === s.record.workerSessionId;
        if (!fits) throw lost();
        const record = withStep(fresh.record);
        s.revision = await this.store.put(request.sessionId, record, fresh.revision);
        s.record = record;
      }
    } catch (error) {
      if (isCodedError(error)) throw error;
      if (error instanceof SessionConflict) throw lost();
      throw storeError("written", error);
    }
  }

  /**
   * Drops a session: its copy, its record (unless nothing was stored), and with `close`, its
   * cache on the worker (`close(record)` tells the worker; for a session not known here, the
   * stored record names it).
   */
  forget(sessionId: string, s: LocalSession | undefined, close?: (record: SessionRecord) => void): void {
    this.sessions.delete(sessionId);
    if (s && close) close(s.record);
    // Nothing stored: a session not known here in a gateway's own memory, or a first step that failed.
    if ((!s && !this.store.shared) || s?.revision === 0) return;
    void (async () => {
      if (!s && close) {
        const stored = await this.store.get(sessionId);
        if (stored) close(stored.record);
      }
      await this.store.delete(sessionId);
    })().catch((error) => this.log.warn({ session: sessionId, err: String(error) }, "session store: could not delete a session"));
  }

  /** Drops the copies only (a shared store's sessions go on at the other gateways). */
  clear(): void {
    this.sessions.clear();
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  private async read(sessionId: string) {
    try {
      return await this.store.get(sessionId);
    } catch (error) {
      throw storeError("read", error);
    }
  }

  private forgetIdle(ttlMs: number): void {
    const before = Date.now() - ttlMs;
    for (const [id, s] of this.sessions) if (s.running === undefined && s.usedAt < before) this.sessions.delete(id);
  }
}

function storeError(what: "read" | "written", error: unknown) {
  const message = (error as Error)?.message ?? String(error);
  // The record holds every step's inputs: past NATS's max_payload it cannot be written again.
  if (/max_payload/i.test(message)) {
    return errors.contextLengthExceeded("The session's history no longer fits in the session store (NATS max_payload); start a new session.", { reason: "session_store_max_payload" });
  }
  return errors.busy(`The session store could not be ${what} now; try the step again. (${(error as Error)?.message ?? error})`, { reason: "session_store" });
}
