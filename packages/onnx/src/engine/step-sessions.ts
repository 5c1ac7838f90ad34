/**
 * Sessions of the legacy step protocol: each holds a sequence (and its KV cache) between steps.
 *
 * Limits: a session unused for `idleMs` is freed by a sweep timer (unref'ed, so it never keeps the
 * process alive; stopped when no session is left and on close). At `maxSessions`, creating one
 * more evicts the least recently used idle session — an abandoned session should not lock new
 * clients out — and only when every session is mid-step does it fail with TOO_MANY_SESSIONS.
 * The same eviction makes room when the cache bytes of all sequences would pass `maxCacheBytes`.
 */
import { errors } from "@modelnode/core/pipeline";
import type { PipelineLogger } from "../shared/logger.js";
import type { LoadedModel } from "./loaded-model.js";
import { KvBatch } from "./kv-batch.js";

export interface StepSession {
  readonly id: string;
  readonly model: LoadedModel;
  /** The session's key/value cache between steps: a batch of one row. */
  cache: KvBatch<null>;
  /** Tokens the session holds (prompt and every step's input). */
  length: number;
  /** Those tokens' ids, in order; and whether every one is attended (no step masked any): only then are its blocks cached. */
  tokenIds: number[];
  cacheable: boolean;
  /** Cache bytes the session will hold once its running step is done (its budget share). */
  plannedBytes: number;
  lastStep: number;
  lastUsed: number;
  busy: boolean;
}

export interface StepSessionLimits {
  maxSessions: number;
  idleMs: number;
  logger: PipelineLogger;
  /** Called when a session is dropped (closed, expired or evicted). */
  onRelease: (session: StepSession) => void;
}

export class StepSessionStore {
  // A Map iterates in insertion order; touching a session re-inserts it, so the first entries
  // are the least recently used.
  private readonly sessions = new Map<string, StepSession>();
  private sweepTimer: NodeJS.Timeout | undefined;
  expired = 0;
  evicted = 0;

  constructor(private readonly limits: StepSessionLimits) {}

  get size(): number {
    return this.sessions.size;
  }

  get(id: string): StepSession | undefined {
    return this.sessions.get(id);
  }

  values(): IterableIterator<StepSession> {
    return this.sessions.values();
  }

  /** Adds a new, empty session, evicting the least recently used idle one when at the cap. */
  create(id: string, model: LoadedModel): StepSession {
    if (this.sessions.size >= this.limits.maxSessions && !this.evictOldestIdle()) {
      throw errors.tooManySessions(`All ${this.limits.maxSessions} sessions are in the middle of a step; retry later.`, {
        max_sessions: this.limits.maxSessions,
      });
    }
    const session: StepSession = { id, model, cache: KvBatch.single(model), length: 0, tokenIds: [], cacheable: true, plannedBytes: 0, lastStep: -1, lastUsed: Date.now(), busy: false };
    this.sessions.set(id, session);
    this.startSweeping();
    return session;
  }

  /** Marks a session as just used (moves it to the most-recent end). */
  touch(session: StepSession): void {
    session.lastUsed = Date.now();
    if (this.sessions.get(session.id) === session) {
      this.sessions.delete(session.id);
      this.sessions.set(session.id, session);
    }
  }

  delete(id: string): boolean {
    const session = this.sessions.get(id);
    if (!session) return false;
    this.sessions.delete(id);
    this.limits.onRelease(session);
    if (this.sessions.size === 0) this.stopSweeping();
    return true;
  }

  /** Evicts idle sessions, oldest first, until `fits()` holds; false if it never does. */
  evictUntil(fits: () => boolean, keep?: StepSession): boolean {
    while (!fits()) {
      if (!this.evictOldestIdle(keep)) return false;
    }
    return true;
  }

  /** Frees every session and stops the timer. */
  clear(): void {
    for (const id of [...this.sessions.keys()]) this.delete(id);
    this.stopSweeping();
  }

  private evictOldestIdle(keep?: StepSession): boolean {
    for (const session of this.sessions.values()) {
      if (session.busy || session === keep) continue;
      this.delete(session.id);
      this.evicted++;
      this.limits.logger.debug({ session: session.id }, "step session evicted (least recently used)");
      return true;
    }
    return false;
  }

  private sweep(): void {
    const cutoff = Date.now() - this.limits.idleMs;
    for (const session of [...this.sessions.values()]) {
      if (session.lastUsed > cutoff) break; // the rest were used more recently
      if (session.busy) continue;
      this.delete(session.id);
      this.expired++;
      this.limits.logger.debug({ session: session.id }, "step session expired");
    }
  }

  private startSweeping(): void {
    if (this.sweepTimer) return;
    // A quarter of the idle time: a session lives at most 1.25 × idleMs without use.
    const interval = Math.max(5, Math.min(Math.floor(this.limits.idleMs / 4), 30_000));
    this.sweepTimer = setInterval(() => this.sweep(), interval);
    this.sweepTimer.unref();
  }

  private stopSweeping(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }
}
