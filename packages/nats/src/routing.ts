/**
 * Where a try goes and how often to try: the one place that picks workers (WorkerPicker) and the
 * one place that says when to try again (RetryPolicy).
 */
import { errors, isCodedError } from "@modelnode/core/pipeline";
import { sleep } from "./gateway-options.js";
import type { Membership } from "./membership.js";

export class WorkerPicker {
  /** Workers taken for dead, and until when they are not picked directly. */
  private readonly avoided = new Map<string, number>();

  constructor(
    private readonly membership: Membership,
    private readonly avoidMs: number,
  ) {}

  /**
   * The worker a generation's try is offered to directly, or undefined for the model's queue
   * group: the first try goes to the queue group, later ones to the least busy worker.
   */
  forGenerationTry(modelId: string, attempt: number): string | undefined {
    return attempt > 1 ? this.leastBusy(modelId) : undefined;
  }

  /** The least busy live worker serving the model that is not draining, full or avoided. */
  leastBusy(modelId: string): string | undefined {
    const now = Date.now();
    const candidates = this.membership.live().filter(
      (w) => !w.draining && w.inFlight < w.maxInFlight && w.models.some((m) => m.id === modelId) && (this.avoided.get(w.worker) ?? 0) < now,
    );
    candidates.sort((a, b) => a.inFlight / a.maxInFlight - b.inFlight / b.maxInFlight);
    return candidates[0]?.worker;
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
