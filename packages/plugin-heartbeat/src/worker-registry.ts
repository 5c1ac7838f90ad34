/**
 * When each worker was last seen, in bounded memory: a Map kept in least-recently-seen order
 * (a heartbeat moves its worker to the end), so the oldest entry is evicted first.
 */
export interface WorkerRecord {
  /** ISO-8601 time of the latest heartbeat from this worker. */
  last_seen: string;
  /** Heartbeats received from this worker since it was (last) tracked. */
  count: number;
}

export class WorkerRegistry {
  private readonly workers = new Map<string, { lastSeen: number; count: number }>();
  private evictedCount = 0;

  constructor(readonly maxTracked: number) {}

  /** Records a heartbeat; returns how many heartbeats this worker has sent. */
  seen(workerId: string, now = Date.now()): number {
    if (this.maxTracked === 0) return 1;
    const previous = this.workers.get(workerId);
    const count = (previous?.count ?? 0) + 1;
    if (previous) this.workers.delete(workerId);
    this.workers.set(workerId, { lastSeen: now, count });
    while (this.workers.size > this.maxTracked) {
      // Map iteration order is insertion order: the first key is the least recently seen.
      const oldest = this.workers.keys().next().value as string;
      this.workers.delete(oldest);
      this.evictedCount++;
    }
    return count;
  }

  get(workerId: string): WorkerRecord | undefined {
    const record = this.workers.get(workerId);
    return record && { last_seen: new Date(record.lastSeen).toISOString(), count: record.count };
  }

  get size(): number {
    return this.workers.size;
  }

  /** Workers dropped to stay within maxTracked. */
  get evicted(): number {
    return this.evictedCount;
  }

  /** Least recently seen first. Object.fromEntries makes even "__proto__" an own, plain key. */
  toJSON(): Record<string, WorkerRecord> {
    return Object.fromEntries(
      [...this.workers].map(([id, r]) => [id, { last_seen: new Date(r.lastSeen).toISOString(), count: r.count }]),
    );
  }
}
