/** Which workers are alive (their heartbeats) and which models they have served (the catalog). */
import type { ModelInfo } from "@modelnode/core/pipeline";
import { decode, type Heartbeat } from "./protocol.js";

interface Member extends Heartbeat {
  seen: number;
}

export class Membership {
  private readonly members = new Map<string, Member>();
  /** Every model a worker has served since this gateway started (hasModel/listModels). */
  private readonly catalog = new Map<string, ModelInfo>();
  private heard: () => void = () => {};
  /** Resolves at the first heartbeat. */
  readonly firstHeartbeat = new Promise<void>((r) => (this.heard = r));

  constructor(private readonly ttlMs: number) {}

  /** A heartbeat's payload; unreadable ones are ignored. */
  onHeartbeat(data: Uint8Array): void {
    try {
      const hb = decode<Heartbeat>(data);
      this.members.set(hb.worker, { ...hb, seen: Date.now() });
      for (const m of hb.models) this.catalog.set(m.id, m);
      this.heard();
    } catch {}
  }

  /** Live workers (heartbeat within the time-to-live); the others are dropped. */
  live(): Heartbeat[] {
    const now = Date.now();
    for (const [id, m] of this.members) if (now - m.seen > this.ttlMs) this.members.delete(id);
    return [...this.members.values()];
  }

  /** Drops a worker until its next heartbeat. */
  forget(worker: string): void {
    this.members.delete(worker);
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
