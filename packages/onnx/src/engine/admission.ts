/**
 * Which generations run, and when, by batch room and key/value cache memory: the engine's
 * queue and cache budget, apart from its message handling and loop (engine.ts).
 *
 * A generation runs when its model's batch has room (`maxBatchSize`) and its worst case cache —
 * (prompt + max_tokens) tokens — fits the byte budget (`maxCacheBytes`) beside what running
 * generations reserved and sessions hold (idle sessions are evicted, least recently used first,
 * to make room). Otherwise it waits in a FIFO queue of at most `maxQueuedGenerations`; past
 * that, BUSY. A generation that could not fit even in an empty engine is BUSY at once. Steps
 * share the budget: a step's session makes room for what it will hold the same way.
 *
 * The choices of one request (a choice group, OpenAI's `n`) queue and are admitted together,
 * each reserving its own worst case, so that one prefill serves them all.
 */
import { errors } from "@modelnode/core/pipeline";
import type { EngineLimits } from "../messages/engine-protocol.js";
import type { GenerationRow } from "./generation-row.js";
import type { ModelRunner } from "./model-runner.js";
import type { PrefixCache } from "./prefix-cache.js";
import type { StepSession, StepSessionStore } from "./step-sessions.js";

type AdmissionLimits = Pick<EngineLimits, "maxBatchSize" | "maxQueuedGenerations" | "maxCacheBytes">;

interface Queued {
  /** One generation, or a choice group's (admitted together). */
  rows: GenerationRow[];
  runner: ModelRunner;
  reservedBytes: number;
}

export class Admission {
  private readonly queue: Queued[] = [];
  private waitingRows = 0;
  /** Admitted generations → their reserved cache bytes (and runner). */
  private readonly reservations = new Map<GenerationRow, { bytes: number; runner: ModelRunner }>();

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly sessions: StepSessionStore,
    private readonly runners: readonly ModelRunner[] = [],
    /** The models' prefix caches: their blocks count, and are evicted first to make room. */
    private readonly prefixCaches: readonly PrefixCache[] = [],
  ) {}

  /** Generations waiting for batch room or memory (a group's each count). */
  get waiting(): number {
    return this.waitingRows;
  }

  /** Generations admitted and not yet over. */
  get running(): number {
    return this.reservations.size;
  }

  /** BUSY when a generation reserving `reservedBytes` on `runner` could never fit, or must wait and the queue is full. */
  checkRoom(runner: ModelRunner, reservedBytes: number): void {
    if (reservedBytes > this.limits.maxCacheBytes) {
      throw errors.busy("The prompt plus the maximum number of tokens need more key/value cache memory than this node has; ask for fewer tokens.", {
        max_cache_bytes: this.limits.maxCacheBytes,
        needed_bytes: reservedBytes,
      });
    }
    if (this.waiting >= this.limits.maxQueuedGenerations && !this.canAdmitNow(runner, reservedBytes)) {
      throw errors.busy("The model is busy: too many generations are running or waiting; retry later.", {
        running: this.reservations.size,
        waiting: this.waiting,
      });
    }
  }

  /**
   * Queues a generation, or a choice group's (checked with `checkRoom` for all of them; each
   * reserving `reservedBytes`), and admits what can run.
   */
  enqueue(rows: GenerationRow[], runner: ModelRunner, reservedBytes: number): void {
    this.queue.push({ rows, runner, reservedBytes });
    this.waitingRows += rows.length;
    this.admit();
  }

  /** Takes a waiting generation out of the queue (its group waits on); false when it is not waiting (admitted, or over). */
  dequeue(row: GenerationRow): boolean {
    const waiting = this.queue.findIndex((queued) => queued.rows.includes(row));
    if (waiting < 0) return false;
    const queued = this.queue[waiting];
    queued.rows = queued.rows.filter((other) => other !== row);
    if (queued.rows.length === 0) this.queue.splice(waiting, 1);
    this.waitingRows--;
    return true;
  }

  /** Empties the queue (the engine is closing); returns the generations that waited. */
  drain(): GenerationRow[] {
    this.waitingRows = 0;
    return this.queue.splice(0).flatMap(({ rows }) => rows);
  }

  /** A generation is over: its reservation is free. */
  release(row: GenerationRow): void {
    this.reservations.delete(row);
  }

  /**
   * Admits queued generations in order while their model has batch room (a group: for all its
   * rows, or an idle model) and memory allows.
   */
  admit(): void {
    // Running batches may come to need more than was promised when they were admitted (a row
    // joining a wider batch is padded to its width): cached blocks give way first.
    while (this.committedBytes() > this.limits.maxCacheBytes && this.evictOldestBlock());
    const full = new Set<ModelRunner>();
    for (let i = 0; i < this.queue.length; ) {
      const { rows, runner, reservedBytes } = this.queue[i];
      const active = runner.activeGenerations;
      if (full.has(runner) || (active > 0 && active + rows.length > this.limits.maxBatchSize)) {
        full.add(runner); // first come, first served within a model; another model may have room
        i++;
        continue;
      }
      if (!this.makeRoom(reservedBytes * rows.length)) break; // memory is shared: keep first come, first served
      this.queue.splice(i, 1);
      this.waitingRows -= rows.length;
      for (const row of rows) {
        this.reservations.set(row, { bytes: reservedBytes, runner });
        row.admitted();
      }
      runner.startGeneration(rows[0], rows.slice(1));
    }
  }

  /**
   * Evicts cached prefix blocks (least recently used first), then idle sessions (never `keep`),
   * until `bytes` more fit the budget; false when they cannot (then it evicts nothing).
   */
  makeRoom(bytes: number, keep?: StepSession): boolean {
    const fits = () => this.committedBytes() + bytes <= this.limits.maxCacheBytes;
    if (fits()) return true;
    let evictable = this.prefixBytes();
    for (const session of this.sessions.values()) if (!session.busy && session !== keep) evictable += this.sessionBytes(session);
    if (this.committedBytes() - evictable + bytes > this.limits.maxCacheBytes) return false;
    while (!fits() && this.evictOldestBlock());
    return this.sessions.evictUntil(fits, keep);
  }

  /**
   * Cache bytes promised: the cached prefix blocks, every session's (planned) cache, and per
   * model the admitted generations' worst cases — or what their batches hold now, when that is
   * more (padding to the longest row, and slots freed by finished rows until they are removed or
   * reused: a reservation is released when its generation ends, its slot a little later).
   */
  committedBytes(): number {
    let total = this.prefixBytes();
    for (const session of this.sessions.values()) total += this.sessionBytes(session);
    const reserved = new Map<ModelRunner, number>();
    for (const { bytes, runner } of this.reservations.values()) reserved.set(runner, (reserved.get(runner) ?? 0) + bytes);
    for (const runner of this.runners) total += Math.max(reserved.get(runner) ?? 0, runner.generationBytes);
    // Runners the admission was not told of (tests): their reservations alone.
    for (const [runner, bytes] of reserved) if (!this.runners.includes(runner)) total += bytes;
    return total;
  }

  private prefixBytes(): number {
    let bytes = 0;
    for (const cache of this.prefixCaches) bytes += cache.bytes;
    return bytes;
  }

  /** Evicts the least recently used block of all the models' caches; false when they are empty. */
  private evictOldestBlock(): boolean {
    let oldest: PrefixCache | undefined;
    for (const cache of this.prefixCaches) if (cache.size > 0 && (!oldest || cache.oldestUse < oldest.oldestUse)) oldest = cache;
    return oldest?.evictOldest() !== undefined;
  }

  /** What a session counts for: a busy one, the larger of what it holds and what its step will. */
  sessionBytes(session: StepSession): number {
    return session.busy ? Math.max(session.plannedBytes, session.cache.cacheBytes) : session.cache.cacheBytes;
  }

  private canAdmitNow(runner: ModelRunner, bytes: number): boolean {
    return this.queue.length === 0 && runner.activeGenerations < this.limits.maxBatchSize && this.committedBytes() + bytes <= this.limits.maxCacheBytes;
  }
}
