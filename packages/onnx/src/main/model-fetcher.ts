/**
 * Models brought into the models directory by their first request (docs/models.md, "Pulling on
 * first request"). What fetches is the embedder's (`ModelFetcher`: the example node pulls from
 * the Hugging Face Hub; this package knows no Hub); `FetchOnce` runs one fetch per model however
 * many requests wait for it, bounds each request's wait (the fetch goes on for the next one), and
 * aborts the fetches still running when the pipeline closes.
 */
import { errors, isCodedError } from "@modelnode/core/pipeline";
import type { PipelineLogger } from "../shared/logger.js";

export interface ModelFetcher {
  /** Whether `modelId` names a model this fetcher may bring (e.g. a Hub id, `org/name[:dtype]`); the pipeline then says it has the model. */
  accepts(modelId: string): boolean;
  /**
   * Puts the model's folder in the models directory (`<dir>/<modelId before any ":dtype">/`),
   * resolving once it is complete. Rejects with a coded error (MODEL_NOT_FOUND when there is no
   * such model, BUSY when it may work later) whose message names the model and the reason.
   */
  fetch(modelId: string, signal: AbortSignal): Promise<void>;
}

export class FetchOnce {
  private readonly running = new Map<string, Promise<void>>();
  private readonly closing = new AbortController();
  private fetches = 0;
  private failures = 0;

  constructor(
    private readonly fetcher: ModelFetcher,
    /** How long a request waits for a fetch before it fails with BUSY. */
    private readonly waitMs: number,
    /** Runs once a fetch has succeeded, before its waiters go on (the directory is read again). */
    private readonly fetched: () => void,
    private readonly logger: PipelineLogger,
  ) {}

  accepts(modelId: string): boolean {
    return !this.closing.signal.aborted && this.fetcher.accepts(modelId);
  }

  isFetching(modelId: string): boolean {
    return this.running.has(modelId);
  }

  /** Resolves once the model's fetch (started now, or the one already running) has succeeded. */
  async fetch(modelId: string): Promise<void> {
    let running = this.running.get(modelId);
    if (!running) {
      running = this.start(modelId);
      this.running.set(modelId, running);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(errors.busy(`Model "${modelId}" is still being fetched after ${this.waitMs} ms; retry shortly.`, { model: modelId, reason: "fetching" })), this.waitMs);
    });
    try {
      await Promise.race([running, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  stats(): Record<string, number> {
    return { modelFetches: this.fetches, modelFetchFailures: this.failures, modelsFetching: this.running.size };
  }

  close(): void {
    this.closing.abort(new Error("the model pipeline is closing"));
  }

  private async start(modelId: string): Promise<void> {
    const started = performance.now();
    this.logger.info({ model: modelId }, "model not in the models directory: fetching it");
    try {
      await this.fetcher.fetch(modelId, this.closing.signal);
      this.fetches++;
      this.fetched();
      this.logger.info({ model: modelId, fetchMs: Math.round(performance.now() - started) }, "model fetched into the models directory");
    } catch (error) {
      this.failures++;
      this.logger.warn({ model: modelId, err: error }, "model could not be fetched");
      if (isCodedError(error)) throw error;
      throw errors.busy(`Model "${modelId}" could not be fetched: ${(error as Error)?.message ?? String(error)}`, { model: modelId, reason: "fetch_failed" });
    } finally {
      this.running.delete(modelId);
    }
  }
}
