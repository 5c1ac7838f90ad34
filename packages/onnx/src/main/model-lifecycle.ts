/**
 * Which models are in memory (docs/models.md, "Lifecycle"): a model loads on its first request
 * (concurrent first requests share one load), stays while requests hold it, and is unloaded once
 * idle for its keep-alive, or earlier, least recently used first, when another model needs its
 * place under the cap on loaded models or the memory budget. A model with requests running is
 * never unloaded. Generic over what a loaded model is (`close()` frees it), so it is tested
 * without ONNX.
 */
import { errors } from "@modelnode/core/pipeline";
import type { PipelineLogger } from "../shared/logger.js";

export interface LifecycleLimits {
  /** Idle time before unloading, ms; negative: never; 0: right after the last request. */
  keepAliveMs: number;
  maxLoadedModels: number;
  memoryBudgetBytes: number;
  /** How long a request waits for a model that is loading before it fails with BUSY. */
  loadTimeoutMs: number;
}

export interface Closable {
  close(): Promise<void>;
}

export interface Lease<T> {
  model: T;
  /** The request is done with the model; `keepAliveMs` (its own, or the default) starts counting once none is left. */
  release(keepAliveMs?: number): void;
}

export interface ModelStatus {
  state: "loaded" | "loading" | "unloaded";
  /** Due to be unloaded at (ms since the epoch): only a loaded, idle model with a finite keep-alive. */
  expiresAt?: number;
}

type State = "unloaded" | "loading" | "loaded" | "unloading";

interface Entry<T> {
  id: string;
  state: State;
  model?: T;
  loading?: Promise<T>;
  unloading?: Promise<void>;
  /** Requests holding the model, and requests waiting for its load: neither lets it be unloaded. */
  active: number;
  waiting: number;
  /** When it was last taken or given back, in ModelLifecycle.uses. */
  lastUsed: number;
  timer?: NodeJS.Timeout;
  expiresAt?: number;
  /** unloadNow() found requests on it: it goes when the last one ends, whatever their keep-alive. */
  unloadWhenIdle?: boolean;
}

/** setTimeout's longest delay; a longer keep-alive is "never". */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class ModelLifecycle<T extends Closable> {
  private readonly entries = new Map<string, Entry<T>>();
  private closed = false;
  private loads = 0;
  private unloads = 0;
  private loadFailures = 0;
  private loadSeconds = 0;
  /** Orders uses (least recently used first), finer than a clock. */
  private uses = 0;

  constructor(
    private readonly limits: LifecycleLimits,
    private readonly load: (id: string) => Promise<T>,
    private readonly sizeOf: (id: string) => number,
    private readonly logger: PipelineLogger,
  ) {}

  /** The model, loaded if need be; BUSY when it cannot be (no room, or its load outlasts loadTimeoutMs). */
  async acquire(id: string): Promise<Lease<T>> {
    const entry = this.entry(id);
    for (;;) {
      if (this.closed) throw errors.shuttingDown("The model pipeline is closed.");
      if (entry.state === "loaded") return this.lease(entry);
      if (entry.state === "unloading") {
        await entry.unloading;
        continue;
      }
      if (entry.state === "unloaded") this.startLoad(entry);
      entry.waiting++;
      try {
        await withTimeout(entry.loading!, this.limits.loadTimeoutMs, id);
      } finally {
        entry.waiting--;
      }
      if ((entry.state as State) === "loaded") return this.lease(entry); // else its load failed for another waiter's retry: loop
    }
  }

  /** Loads the model as a request would (BUSY likewise), then lets it idle for `keepAliveMs` (default: the limits'). */
  async preload(id: string, keepAliveMs?: number): Promise<void> {
    (await this.acquire(id)).release(keepAliveMs);
  }

  /**
   * Unloads the model now (after its load, if it is loading); with requests on it, marks it to
   * go when the last one ends. Nothing for a model not loaded.
   */
  async unloadNow(id: string): Promise<void> {
    const entry = this.entries.get(id);
    if (!entry) return;
    if (entry.state === "loading") await entry.loading?.catch(() => undefined);
    if (entry.state === "unloading") return entry.unloading;
    if (entry.state !== "loaded") return;
    if (entry.active === 0 && entry.waiting === 0) return this.unload(entry, "unloaded on request");
    entry.unloadWhenIdle = true;
  }

  status(id: string): ModelStatus {
    const entry = this.entries.get(id);
    if (!entry || entry.state === "unloaded" || entry.state === "unloading") return { state: "unloaded" };
    if (entry.state === "loading") return { state: "loading" };
    return entry.expiresAt !== undefined ? { state: "loaded", expiresAt: entry.expiresAt } : { state: "loaded" };
  }

  /** The loaded models. */
  loaded(): T[] {
    return [...this.entries.values()].flatMap((entry) => (entry.state === "loaded" && entry.model ? [entry.model] : []));
  }

  stats(): Record<string, number> {
    const states = [...this.entries.values()];
    const held = states.filter((entry) => entry.state === "loaded");
    return {
      modelLoads: this.loads,
      modelUnloads: this.unloads,
      modelLoadFailures: this.loadFailures,
      modelLoadSeconds: this.loadSeconds,
      modelsLoaded: held.length,
      modelsLoading: states.filter((entry) => entry.state === "loading").length,
      modelBytesLoaded: held.reduce((sum, entry) => sum + this.sizeOf(entry.id), 0),
    };
  }

  /** Unloads everything (waiting for loads in progress first). */
  async close(): Promise<void> {
    this.closed = true;
    const entries = [...this.entries.values()];
    await Promise.all(entries.map((entry) => entry.loading?.catch(() => undefined)));
    await Promise.all(entries.map((entry) => (entry.state === "loaded" ? this.unload(entry, "closing") : entry.unloading)));
  }

  private entry(id: string): Entry<T> {
    let entry = this.entries.get(id);
    if (!entry) {
      entry = { id, state: "unloaded", active: 0, waiting: 0, lastUsed: 0 };
      this.entries.set(id, entry);
    }
    return entry;
  }

  private lease(entry: Entry<T>): Lease<T> {
    entry.active++;
    entry.lastUsed = ++this.uses;
    this.clearTimer(entry);
    let released = false;
    return {
      model: entry.model!,
      release: (keepAliveMs) => {
        if (released) return;
        released = true;
        entry.active--;
        entry.lastUsed = ++this.uses;
        if (entry.active === 0 && entry.waiting === 0 && entry.state === "loaded" && !this.closed) this.idle(entry, entry.unloadWhenIdle ? 0 : (keepAliveMs ?? this.limits.keepAliveMs));
      },
    };
  }

  /**
   * Makes room (unloading idle models, least recently used first) and starts the load; throws
   * BUSY, loading nothing, when the cap or the budget cannot be met because the others are busy.
   */
  private startLoad(entry: Entry<T>): void {
    const size = this.sizeOf(entry.id);
    const { maxLoadedModels, memoryBudgetBytes } = this.limits;
    if (size > memoryBudgetBytes) {
      throw errors.busy(`Model "${entry.id}" needs about ${size} bytes, more than the models memory budget (${memoryBudgetBytes} bytes).`, { model: entry.id });
    }
    const held = [...this.entries.values()].filter((other) => other.state === "loaded" || other.state === "loading");
    let count = held.length;
    let bytes = held.reduce((sum, other) => sum + this.sizeOf(other.id), 0);
    const idle = held.filter((other) => other.state === "loaded" && other.active === 0 && other.waiting === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    const evicted: Entry<T>[] = [];
    while ((count + 1 > maxLoadedModels || bytes + size > memoryBudgetBytes) && idle.length > 0) {
      const victim = idle.shift()!;
      evicted.push(victim);
      count--;
      bytes -= this.sizeOf(victim.id);
    }
    if (count + 1 > maxLoadedModels || bytes + size > memoryBudgetBytes) {
      const limit = count + 1 > maxLoadedModels ? `${maxLoadedModels} loaded models at most` : `a models memory budget of ${memoryBudgetBytes} bytes`;
      throw errors.busy(`Model "${entry.id}" cannot be loaded now: ${limit}, and the loaded models are all in use; retry shortly.`, { model: entry.id });
    }
    const freed = evicted.map((victim) => this.unload(victim, "making room"));
    entry.state = "loading";
    entry.loading = this.loadAfter(entry, freed);
    entry.loading.catch(() => undefined); // a load nobody waits for any more must not be an unhandled rejection
  }

  private async loadAfter(entry: Entry<T>, freed: Promise<void>[]): Promise<T> {
    await Promise.all(freed); // their memory back before this model takes its own
    const started = performance.now();
    try {
      const model = await this.load(entry.id);
      const seconds = (performance.now() - started) / 1000;
      this.loads++;
      this.loadSeconds += seconds;
      entry.model = model;
      entry.state = "loaded";
      entry.lastUsed = ++this.uses;
      this.logger.info({ model: entry.id, loadMs: Math.round(seconds * 1000) }, "model loaded on demand");
      if (this.closed) void this.unload(entry, "closing");
      // Everyone who asked for it gave up waiting: it idles like a model whose requests ended.
      else if (entry.waiting === 0) this.idle(entry, this.limits.keepAliveMs);
      return model;
    } catch (error) {
      this.loadFailures++;
      entry.state = "unloaded";
      this.logger.error({ model: entry.id, err: error }, "model failed to load");
      throw error;
    } finally {
      entry.loading = undefined;
    }
  }

  private idle(entry: Entry<T>, keepAliveMs: number): void {
    this.clearTimer(entry);
    if (keepAliveMs === 0) return void this.unload(entry, "keep_alive 0");
    if (keepAliveMs < 0 || keepAliveMs > MAX_TIMER_MS) return;
    entry.expiresAt = Date.now() + keepAliveMs;
    entry.timer = setTimeout(() => {
      if (entry.state === "loaded" && entry.active === 0 && entry.waiting === 0) void this.unload(entry, "idle");
    }, keepAliveMs);
    entry.timer.unref();
  }

  private clearTimer(entry: Entry<T>): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.expiresAt = undefined;
  }

  private unload(entry: Entry<T>, reason: string): Promise<void> {
    this.clearTimer(entry);
    entry.unloadWhenIdle = undefined;
    const model = entry.model!;
    entry.model = undefined;
    entry.state = "unloading";
    entry.unloading = model
      .close()
      .catch((error: unknown) => this.logger.error({ model: entry.id, err: error }, "model failed to unload cleanly"))
      .finally(() => {
        this.unloads++;
        entry.state = "unloaded";
        entry.unloading = undefined;
        this.logger.info({ model: entry.id, reason }, "model unloaded");
      });
    return entry.unloading;
  }
}

/** `promise`, or BUSY naming the model once `ms` have passed (the load itself goes on). */
function withTimeout<T>(promise: Promise<T>, ms: number, id: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(errors.busy(`Model "${id}" is still loading after ${ms} ms; retry shortly.`, { model: id })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
