/**
 * Where a try goes and how often to try: the one place that picks workers (WorkerPicker) and the
 * one place that says when to try again (RetryPolicy).
 */
import { errors, isCodedError } from "@modelnode/core/pipeline";
import { sleep } from "./gateway-options.js";
import { chooseWorker } from "./chooser.js";
import type { Membership } from "./membership.js";

export class WorkerPicker {
  /** Workers taken for dead, and until when they are not picked directly. */
  private readonly avoided = new Map<string, number>();
  /** Generations this gateway has assigned to each worker since it started (metrics, the bench). */
  private readonly assignments = new Map<string, number>();

  constructor(
    private readonly membership: Membership,
    private readonly avoidMs: number,
  ) {}

  /**
   * The worker a generation's try is offered to directly: one that has the model loaded if any
   * has room, then the one with the most free capacity (chooser.ts); undefined, for the model's queue group, while this gateway knows no live
   * worker with room for it (no heartbeat yet, or every one full: the group's `busy` answers
   * then pace the retries).
   */
  forGenerationTry(modelId: string): string | undefined {
    return this.leastBusy(modelId);
  }

  /**
   * The live worker serving the model, not draining, full or avoided, that has it loaded (then
   * loading), and among those the one with the most free capacity. A silent worker (missed heartbeats) stays a candidate: it is most often only busy,
   * and a dead one is dropped as soon as its ping finds no responders (Liveness).
   */
  leastBusy(modelId: string): string | undefined {
    const now = Date.now();
    const { membership } = this;
    const candidates = membership
      .live()
      .filter((w) => !w.draining && w.models.some((m) => m.id === modelId) && (this.avoided.get(w.worker) ?? 0) < now)
      .map((w) => ({ worker: w.worker, load: membership.load(w.worker), capacity: w.maxInFlight, modelState: w.models.find((m) => m.id === modelId)?.state }));
    return chooseWorker(candidates);
  }

  /**
   * A generation is on its way to the worker: counted in its load at once, so that offers made
   * before the worker answers (a burst of requests) spread instead of all going to one worker.
   */
  reserve(worker: string): void {
    this.membership.assigned(worker);
  }

  /** The generation reserved or accepted there is not (or no longer) on the worker: refused, ended or lost. */
  release(worker: string): void {
    this.membership.released(worker);
  }

  /** A worker accepted a generation from this gateway (counted for metrics). */
  accepted(worker: string): void {
    this.assignments.set(worker, (this.assignments.get(worker) ?? 0) + 1);
  }

  /** Generations assigned to each worker since this gateway started. */
  assignedSoFar(worker: string): number {
    return this.assignments.get(worker) ?? 0;
  }

  /** Not picked directly for a while (it did not answer). */
  avoid(worker: string): void {
    this.avoided.set(worker, Date.now() + this.avoidMs);
  }

  /** Taken for dead: avoided, and out of the membership until its next heartbeat. */
  lost(worker: string): void {
    this.avoid(worker);
    this.membership.forget(worker);
  }
}

export class RetryPolicy {
  constructor(private readonly maxAttempts: number) {}

  /** Throws BUSY once `attempt` is past the tries allowed. */
  check(attempt: number, what: "generation" | "step"): void {
    if (attempt <= this.maxAttempts) return;
    const message = what === "generation" ? "No model worker could finish this request; try again later." : "No model worker could run this step; try again later.";
    throw errors.busy(message, { reason: "attempts_exhausted" });
  }

  /** A worker's "busy" error is worth another try elsewhere only while nothing was delivered. */
  retriesError(error: Error, piecesDelivered: number): boolean {
    return isCodedError(error) && error.code === "BUSY" && piecesDelivered === 0;
  }

  /** The pause after a worker answered `busy` to a generation's try. */
  afterBusyGeneration(attempt: number): Promise<unknown> {
    return sleep(Math.min(50 * attempt, 250));
  }

  /** The pause after a worker answered `busy` to a step. */
  afterBusyStep(): Promise<unknown> {
    return sleep(50);
  }
}
