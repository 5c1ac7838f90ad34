/**
 * Per-worker figures for a pipeline that spreads its work over workers (ModelPipeline.workerLoads,
 * e.g. a NATS gateway): each live worker's load as the gateway estimates it, its capacity, its own
 * queue, and the generations given to it. Read at scrape time; a worker that is gone is gone
 * from the next scrape (label values are live worker ids, announced by the workers, never
 * client input).
 */
import type { WorkerLoad } from "@modelnode/core";
import { Counter, Gauge, type Registry } from "prom-client";

export function registerWorkerMetrics(registry: Registry, prefix: string, workerLoads: () => WorkerLoad[]): void {
  const registers = [registry];
  const read = (): WorkerLoad[] => {
    try {
      return workerLoads();
    } catch {
      return [];
    }
  };
  const gauge = (name: string, help: string, figure: (w: WorkerLoad) => number) =>
    new Gauge({
      name: `${prefix}${name}`,
      help,
      labelNames: ["worker"],
      registers,
      collect() {
        this.reset();
        for (const w of read()) this.set({ worker: w.worker }, figure(w));
      },
    });
  gauge("worker_requests_running", "Generations a worker runs now, as this gateway estimates it (its last heartbeat, plus what this gateway sent it and saw end since).", (w) => w.inFlight);
  gauge("worker_capacity", "Generations a worker takes at once (its maxInFlight).", (w) => w.capacity);
  gauge("worker_requests_waiting", "Generations waiting in a worker's own engine for a batch slot (its last heartbeat).", (w) => w.queued);
  new Counter({
    name: `${prefix}worker_assignments_total`,
    help: "Generations this gateway gave each worker (accepted tries; resumed ones count again).",
    labelNames: ["worker"],
    registers,
    collect() {
      this.reset();
      for (const w of read()) if (w.assigned > 0) this.inc({ worker: w.worker }, w.assigned);
    },
  });
}
