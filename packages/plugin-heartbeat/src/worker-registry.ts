/**
 * When each worker was last seen, in bounded memory, least recently seen first: a Map from
 * worker_id to its record, and the records in a doubly linked list in the order they were last
 * seen (a heartbeat moves its worker to the end), so that the oldest is evicted first.
 *
 * Why a list beside the Map rather than the Map's own insertion order (delete + set per
 * heartbeat): a repeated heartbeat then costs one Map lookup and a few pointer writes, with no
 * new record and no Map churn (each delete leaves a hole the Map rehashes away later). It is
 * on every heartbeat's path (npm run bench:dispatch).
 */
export interface WorkerRecord {
  /** ISO-8601 time of the latest heartbeat from this worker. */
  last_seen: string;
  /** Heartbeats received from this worker since it was (last) tracked. */
  count: number;
}

interface Entry {
  readonly id: string;
  lastSeen: number;
  count: number;
  /** Toward the least recently seen. */
  older: Entry | undefined;
  /** Toward the most recently seen. */
  newer: Entry | undefined;
}

export class WorkerRegistry {
  private readonly workers = new Map<string, Entry>();
  /** Least recently seen. */
  private oldest: Entry | undefined;
  /** Most recently seen. */
  private newest: Entry | undefined;
  private evictedCount = 0;

  constructor(readonly maxTracked: number) {}

  /** Records a heartbeat; returns how many heartbeats this worker has sent. */
  seen(workerId: string, now = Date.now()): number {
    if (this.maxTracked === 0) return 1;
    let entry = this.workers.get(workerId);
    if (entry) {
      entry.lastSeen = now;
      entry.count++;
      if (entry !== this.newest) {
        this.unlink(entry);
        this.append(entry);
      }
      return entry.count;
    }
    entry = { id: workerId, lastSeen: now, count: 1, older: undefined, newer: undefined };
    this.workers.set(workerId, entry);
    this.append(entry);
    while (this.workers.size > this.maxTracked) {
      const oldest = this.oldest!;
      this.unlink(oldest);
      this.workers.delete(oldest.id);
      this.evictedCount++;
    }
    return 1;
  }

  get(workerId: string): WorkerRecord | undefined {
    const entry = this.workers.get(workerId);
    return entry && record(entry);
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
    const entries: [string, WorkerRecord][] = [];
    for (let entry = this.oldest; entry; entry = entry.newer) entries.push([entry.id, record(entry)]);
    return Object.fromEntries(entries);
  }

  private append(entry: Entry): void {
    entry.older = this.newest;
    entry.newer = undefined;
    if (this.newest) this.newest.newer = entry;
    else this.oldest = entry;
    this.newest = entry;
  }

  private unlink(entry: Entry): void {
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.newest = entry.older;
    entry.older = entry.newer = undefined;
  }
}

function record(entry: Entry): WorkerRecord {
  return { last_seen: new Date(entry.lastSeen).toISOString(), count: entry.count };
}
