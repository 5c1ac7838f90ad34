/**
 * The plugin's own record of live legacy sessions: which step comes next, which model and
 * connection a session belongs to, and when it was last used. It enforces the session cap and
 * idle expiry; the pipeline holds the actual KV caches and is told to free one through
 * `release` whenever a record goes away.
 */
export interface SessionRecord {
  /** The key the pipeline knows the session by (scope-dependent). */
  readonly key: string;
  readonly modelId: string;
  readonly connectionId: string;
  /** Last step that completed; -1 while step 0 runs. */
  lastStep: number;
  lastUsedAt: number;
  /** A step is running on this session. */
  busy: boolean;
}

export interface SessionTableOptions {
  maxSessions: number;
  idleTimeoutMs: number;
  /** Frees the pipeline's state for a session key. */
  release: (key: string) => void;
  now?: () => number;
}

export class SessionTable {
  private readonly records = new Map<string, SessionRecord>();
  private readonly now: () => number;
  private sweeper: NodeJS.Timeout | undefined;
  private expiredCount = 0;

  constructor(private readonly options: SessionTableOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.records.size;
  }

  get(key: string): SessionRecord | undefined {
    return this.records.get(key);
  }

  /** Whether a new session may be added (after expired ones are gone). */
  hasRoom(): boolean {
    this.sweep();
    return this.records.size < this.options.maxSessions;
  }

  /** Adds (or replaces, for a restart) the record of a session whose step 0 is starting. */
  start(key: string, modelId: string, connectionId: string): SessionRecord {
    const record: SessionRecord = { key, modelId, connectionId, lastStep: -1, lastUsedAt: this.now(), busy: true };
    this.records.set(key, record);
    return record;
  }

  touch(record: SessionRecord): void {
    record.lastUsedAt = this.now();
  }

  /** Forgets a session and frees its pipeline state. */
  delete(key: string): void {
    if (!this.records.delete(key)) return;
    this.options.release(key);
  }

  /**
   * Frees the sessions started on a connection (connection scope, on close). One with a step
   * still running is left to that step, which frees it when it ends.
   */
  deleteConnection(connectionId: string): void {
    for (const record of [...this.records.values()]) {
      if (record.connectionId === connectionId && !record.busy) this.delete(record.key);
    }
  }

  /** Frees sessions idle longer than the timeout; a session with a step running is never idle. */
  sweep(): void {
    const cutoff = this.now() - this.options.idleTimeoutMs;
    for (const record of [...this.records.values()]) {
      if (!record.busy && record.lastUsedAt <= cutoff) {
        this.expiredCount++;
        this.delete(record.key);
      }
    }
  }

  /** Sweeps periodically so that idle sessions are freed even when no messages arrive. */
  startSweeper(): void {
    const period = Math.min(Math.max(Math.floor(this.options.idleTimeoutMs / 2), 10), 60_000);
    this.sweeper = setInterval(() => this.sweep(), period);
    this.sweeper.unref();
  }

  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const key of [...this.records.keys()]) this.delete(key);
  }

  stats(): { sessions: number; max_sessions: number; expired_sessions: number } {
    return { sessions: this.records.size, max_sessions: this.options.maxSessions, expired_sessions: this.expiredCount };
  }
}
