/**
 * Where a gateway keeps its legacy step sessions (step-sessions.ts): each session's model, the
 * worker holding its cache, the id it has on the workers and the steps run so far (replayed on
 * another worker when that one is lost).
 *
 * - "memory" (the default): in this gateway's memory, as with one gateway; its death loses them.
 * - "jetstream": in a JetStream key-value bucket (jetstream-session-store.ts) that every gateway
 *   on the same NATS shares, so a session continues on another gateway after its own died.
 *
 * Writes are compare-and-set on the record's revision: two gateways stepping the same session at
 * once cannot both win; the loser gets a SessionConflict.
 */
import type { StepCall } from "./protocol.js";

export interface SessionRecord {
  modelId: string;
  /** The session's id on the workers: fixed at step 0, whichever gateway runs a later step. */
  workerSessionId: string;
  /** The worker holding the session's cache; undefined: none yet, or it was lost. */
  worker?: string;
  /** The steps run so far, replayed on another worker when this one is lost. */
  history: StepCall[];
}

export interface StoredSession {
  record: SessionRecord;
  /** The store's revision of this record: the next write must name it. */
  revision: number;
}

/** A write lost the race: the record changed (or appeared, or went) since `revision` was read. */
export class SessionConflict extends Error {
  constructor(readonly sessionId: string) {
    super(`session "${sessionId}" was changed by another gateway`);
  }
}

export interface SessionStore {
  /** "memory" or "jetstream" (for logs and stats). */
  readonly kind: string;
  /** Whether other gateways see this store's records (then a gateway's close leaves them for the others). */
  readonly shared: boolean;
  /** Idle sessions expire after this (undefined: never); a gateway forgets its local copy after it too. */
  readonly ttlMs?: number;
  get(sessionId: string): Promise<StoredSession | undefined>;
  /** Writes `record` if the stored revision is still `revision` (0: no record); returns the new revision. */
  put(sessionId: string, record: SessionRecord, revision: number): Promise<number>;
  delete(sessionId: string): Promise<void>;
  close(): Promise<void>;
}

/** Today's behaviour with one gateway: the records live and die with this process. */
export class MemorySessionStore implements SessionStore {
  readonly kind = "memory";
  readonly shared: boolean = false;
  readonly ttlMs = undefined;
  private readonly records = new Map<string, StoredSession>();

  async get(sessionId: string): Promise<StoredSession | undefined> {
    return this.records.get(sessionId);
  }

  async put(sessionId: string, record: SessionRecord, revision: number): Promise<number> {
    const current = this.records.get(sessionId)?.revision ?? 0;
    if (current !== revision) throw new SessionConflict(sessionId);
    this.records.set(sessionId, { record, revision: current + 1 });
    return current + 1;
  }

  async delete(sessionId: string): Promise<void> {
    this.records.delete(sessionId);
  }

  async close(): Promise<void> {
    this.records.clear();
  }
}

/**
 * A KV key for a session id: ids are any text (a connection-scoped one holds a "/"), KV keys only
 * `[-/_=.A-Za-z0-9]`; base64url of the UTF-8 is valid, one-to-one and the same on every gateway.
 */
export function sessionKey(sessionId: string): string {
  return `s.${Buffer.from(sessionId, "utf8").toString("base64url") || "_"}`;
}
