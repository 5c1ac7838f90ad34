/**
 * Which workers are alive (their heartbeats), how loaded each is, and which models they have
 * served (the catalog).
 *
 * Load: a heartbeat says how many generations the worker runs, and how many of them each gateway
 * sent (`gateways`); this gateway swaps its own share for its exact count of what it has there
 * now (`own`: counted when offered, until it ends). So a burst of offers between two heartbeats
 * spreads, and a heartbeat sent before the latest offers arrived does not hide them; only other
 * gateways' newest offers are unknown until the next heartbeat.
 */
import type { ModelInfo } from "@modelnode/core/pipeline";
import { decode, type Heartbeat } from "./protocol.js";

interface Member extends Heartbeat {
  seen: number;
}

export class Membership {
  private readonly members = new Map<string, Member>();
  /** Every model a worker has served since this gateway started (hasModel/listModels). */
  private readonly catalog = new Map<string, ModelInfo>();
  /** Generations this gateway has on each worker now (offered and not ended). */
  private readonly own = new Map<string, number>();
  private heard: () => void = () => {};
  /** Resolves at the first heartbeat. */
  readonly firstHeartbeat = new Promise<void>((r) => (this.heard = r));

  /**
   * @param ttlMs a worker silent this long leaves the membership
   * @param missedHeartbeats a worker silent for this many of its heartbeat periods is suspect (see silent())
   * @param gatewayId this gateway's id (its share in the heartbeats' `gateways`)
   */
  constructor(
    private readonly ttlMs: number,
    private readonly missedHeartbeats: number,
    private readonly gatewayId: string,
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
    this.members.set(hb.worker, { ...hb, seen: Date.now() });
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

  /**
   * The generations a worker runs now as this gateway estimates it: the heartbeat's, with this
   * gateway's share replaced by its own count. (A worker of an earlier version says no shares:
   * the larger of its figure and this gateway's count.)
   */
  load(worker: string): number {
    const m = this.members.get(worker);
    const own = this.own.get(worker) ?? 0;
    if (!m) return own;
    if (!m.gateways) return Math.max(m.inFlight, own);
    return Math.max(0, m.inFlight - (m.gateways[this.gatewayId] ?? 0)) + own;
  }

  /** This gateway offered the worker a generation (counted until released). */
  assigned(worker: string): void {
    this.own.set(worker, (this.own.get(worker) ?? 0) + 1);
  }

  /** A generation this gateway offered the worker was refused, or ended there. */
  released(worker: string): void {
    const n = (this.own.get(worker) ?? 0) - 1;
    if (n > 0) this.own.set(worker, n);
    else this.own.delete(worker);
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
