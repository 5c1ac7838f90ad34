/**
 * Which workers are alive (their heartbeats), how loaded each is, and which models they have
 * served (the catalog).
 *
 * Load: a heartbeat says how many generations the worker runs; between two heartbeats this
 * gateway adds what it assigned to the worker and takes off what it saw end (`pending`), so a
 * burst of requests spreads before the next heartbeat says where they went.
 */
import type { ModelInfo } from "@modelnode/core/pipeline";
import { decode, type Heartbeat } from "./protocol.js";

interface Member extends Heartbeat {
  seen: number;
  /** Assigned by this gateway minus ended, since this worker's last heartbeat. */
  pending: number;
}

export class Membership {
  private readonly members = new Map<string, Member>();
  /** Every model a worker has served since this gateway started (hasModel/listModels). */
  private readonly catalog = new Map<string, ModelInfo>();
  private heard: () => void = () => {};
  /** Resolves at the first heartbeat. */
  readonly firstHeartbeat = new Promise<void>((r) => (this.heard = r));

  /**
   * @param ttlMs a worker silent this long leaves the membership
   * @param missedHeartbeats a worker silent for this many of its heartbeat periods is suspect (see silent())
   */
  constructor(
    private readonly ttlMs: number,
    private readonly missedHeartbeats: number,
  ) {}

  /** A heartbeat's payload; unreadable ones are ignored. */
  onHeartbeat(data: Uint8Array): void {
    let hb: Heartbeat;
    try {
      hb = decode<Heartbeat>(data);
      if (typeof hb.worker !== "string" || !Array.isArray(hb.models)) return;
    } catch {
      return;
    }
    this.members.set(hb.worker, { ...hb, seen: Date.now(), pending: 0 });
    for (const m of hb.models) this.catalog.set(m.id, m);
    this.heard();
  }

  /** Live workers (heartbeat within the time-to-live); the others are dropped. */
  live(): Heartbeat[] {
    const now = Date.now();
    for (const [id, m] of this.members) if (now - m.seen > this.ttlMs) this.members.delete(id);
    return [...this.members.values()];
  }

  /** Live workers silent for more than `missedHeartbeats` of their periods: killed, hung or cut off. */
  silent(): string[] {
    const now = Date.now();
    return this.live()
      .filter((m) => m.periodMs !== undefined && now - (m as Member).seen > this.missedHeartbeats * m.periodMs)
      .map((m) => m.worker);
  }

  /** The generations a worker runs now as this gateway estimates it (heartbeat + pending). */
  load(worker: string): number {
    const m = this.members.get(worker);
    return m ? Math.max(0, m.inFlight + m.pending) : 0;
  }

  /** This gateway gave the worker a generation (counted until its next heartbeat). */
  assigned(worker: string): void {
    const m = this.members.get(worker);
    if (m) m.pending++;
  }

  /** A generation this gateway gave the worker ended there. */
  released(worker: string): void {
    const m = this.members.get(worker);
    if (m) m.pending--;
  }

  /** Drops a worker until its next heartbeat. */
  forget(worker: string): void {
    this.members.delete(worker);
  }

  /** Whether a live worker that is not draining serves a model now (a gateway is ready then). */
  serving(): boolean {
    return this.live().some((m) => !m.draining && m.models.length > 0);
  }

  models(): ModelInfo[] {
    return [...this.catalog.values()].map((m) => ({ ...m }));
  }
  hasModel(modelId: string): boolean {
    return this.catalog.has(modelId);
  }
  modelIds(): string[] {
    return [...this.catalog.keys()];
  }
}
