/**
 * `ModelsDirPipeline`: core's `ModelPipeline` over a models directory (docs/models.md, "A models
 * directory"). The explicitly configured models (`models`) are one `OnnxPipeline`, loaded at
 * start and kept; each directory model is a pipeline of its own (its own engine and tokenizer
 * threads), loaded on its first request and closed — its ONNX session released, its threads
 * ended, its memory returned — when `ModelLifecycle` unloads it. Every request to a directory
 * model holds it (a stream until it ends), so a model with requests running is never unloaded.
 *
 * The directory is read again (at most once a second) when asked for a model it did not hold,
 * and when listing, so a model folder added while the node runs is served without a restart.
 * An id `<folder id>:<dtype>` serves that folder's graph of that dtype. With a `ModelFetcher`, a
 * model the directory lacks is fetched into it by its first request (model-fetcher.ts).
 */
import {
  modelNotFound,
  type ChatMessage,
  type GenerateRequest,
  type GenerationEvent,
  type GenerationResult,
  type ModelInfo,
  type ModelPipeline,
  type PipelineStats,
  type StepRequest,
  type StepResult,
  type Tokenization,
} from "@modelnode/core/pipeline";
import type { PipelineLogger } from "../shared/logger.js";
import { MODEL_DTYPES, type ModelDtype } from "../shared/model-files.js";
import { FetchOnce, type ModelFetcher } from "./model-fetcher.js";
import { ModelLifecycle, type LifecycleLimits } from "./model-lifecycle.js";
import { describeModelDir, scanModelsDir, type DirectoryModel } from "./models-dir.js";

/** How often the directory may be read again for a model it did not hold. */
const RESCAN_MS = 1000;

export class ModelsDirPipeline implements ModelPipeline {
  private readonly lifecycle: ModelLifecycle<ModelPipeline>;
  private directory = new Map<string, DirectoryModel>();
  /** Each directory model's info as its engine reported it, once it has been loaded. */
  private readonly loadedInfo = new Map<string, ModelInfo>();
  private scannedAt = 0;
  private readonly fetches: FetchOnce | undefined;
  /** Models arrive while it runs when it fetches them: an empty directory at start is no error. */
  readonly dynamicModels: boolean;

  constructor(
    private readonly root: string,
    /** The explicitly configured models (always loaded), if any. */
    private readonly pinned: ModelPipeline | undefined,
    limits: LifecycleLimits,
    load: (model: DirectoryModel) => Promise<ModelPipeline>,
    private readonly logger: PipelineLogger,
    fetcher?: ModelFetcher,
  ) {
    this.fetches = fetcher ? new FetchOnce(fetcher, limits.loadTimeoutMs, () => this.rescan(true), logger) : undefined;
    this.dynamicModels = fetcher !== undefined;
    this.lifecycle = new ModelLifecycle<ModelPipeline>(
      limits,
      async (id) => {
        const pipeline = await load(this.directory.get(id)!);
        const info = pipeline.listModels()[0];
        if (info) this.loadedInfo.set(id, info);
        return pipeline;
      },
      (id) => this.directory.get(id)?.sizeBytes ?? 0,
      logger,
    );
    this.rescan(true);
  }

  listModels(): ModelInfo[] {
    this.rescan();
    const pinned = (this.pinned?.listModels() ?? []).map((info) => ({ ...info, state: "loaded" as const }));
    const taken = new Set(pinned.map((info) => info.id));
    const listed = [...this.directory.values()]
      .filter((model) => !taken.has(model.id))
      .map((model) => ({ ...(this.loadedInfo.get(model.id) ?? model.info), sizeBytes: model.sizeBytes, ...this.lifecycle.status(model.id) }));
    return [...pinned, ...listed];
  }

  /** Served now, or (with a fetcher) a model a request may fetch. */
  hasModel(modelId: string): boolean {
    return this.pinned?.hasModel(modelId) === true || this.inDirectory(modelId) || this.fetches?.accepts(modelId) === true;
  }

  /** Loads a directory model now (Ollama's load request); a model given with `models` is always loaded. */
  async loadModel(modelId: string, keepAliveMs?: number): Promise<void> {
    if (this.pinned?.hasModel(modelId)) return;
    await this.known(modelId);
    await this.lifecycle.preload(modelId, keepAliveMs);
  }

  /** Unloads a directory model now (Ollama's `keep_alive: 0`); a model given with `models` stays. */
  async unloadModel(modelId: string): Promise<void> {
    if (this.pinned?.hasModel(modelId)) return;
    if (typeof modelId !== "string" || !this.hasModel(modelId)) throw modelNotFound(String(modelId), this);
    await this.lifecycle.unloadNow(modelId);
  }

  tokenize(modelId: string, text: string): Promise<Tokenization> {
    return this.using(modelId, undefined, (pipeline) => pipeline.tokenize(modelId, text));
  }

  countTokens(modelId: string, text: string): Promise<number> {
    return this.using(modelId, undefined, (pipeline) => pipeline.countTokens(modelId, text));
  }

  countChatTokens(modelId: string, messages: readonly ChatMessage[]): Promise<number> {
    return this.using(modelId, undefined, (pipeline) => pipeline.countChatTokens!(modelId, messages));
  }

  tokenizeChat(modelId: string, messages: readonly ChatMessage[]): Promise<number[]> {
    return this.using(modelId, undefined, (pipeline) => pipeline.tokenizeChat!(modelId, messages));
  }

  detokenize(modelId: string, ids: number[]): Promise<string> {
    return this.using(modelId, undefined, (pipeline) => pipeline.detokenize(modelId, ids));
  }

  generate(request: GenerateRequest): Promise<GenerationResult> {
    return this.using(request.modelId, request.keepAliveMs, (pipeline) => pipeline.generate(request));
  }

  stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    if (this.pinned?.hasModel(request.modelId)) return this.pinned.stream(request);
    const self = this;
    return (async function* () {
      const lease = await self.lease(request.modelId);
      try {
        yield* lease.model.stream(request);
      } finally {
        lease.release(request.keepAliveMs);
      }
    })();
  }

  step(request: StepRequest): Promise<StepResult> {
    return this.using(request.modelId, undefined, (pipeline) => pipeline.step(request));
  }

  closeSession(sessionId: string): boolean {
    return [this.pinned, ...this.lifecycle.loaded()].some((pipeline) => pipeline?.closeSession(sessionId) === true);
  }

  /** The loaded pipelines' figures summed, and the lifecycle's (loads, unloads, load time, models and bytes loaded). */
  stats(): PipelineStats {
    const sum: PipelineStats = { activeSessions: 0, generationsInFlight: 0, cacheBytes: 0, queuedGenerations: 0 };
    for (const pipeline of [this.pinned, ...this.lifecycle.loaded()]) {
      if (!pipeline) continue;
      for (const [key, value] of Object.entries(pipeline.stats())) sum[key] = (sum[key] ?? 0) + value;
    }
    return { ...sum, ...this.lifecycle.stats(), ...this.fetches?.stats() };
  }

  async close(): Promise<void> {
    this.fetches?.close();
    await Promise.all([this.lifecycle.close(), this.pinned?.close()]);
  }

  /** `run` on the pipeline serving `modelId`, holding a directory model for as long as it runs. */
  private async using<T>(modelId: string, keepAliveMs: number | undefined, run: (pipeline: ModelPipeline) => Promise<T>): Promise<T> {
    if (this.pinned?.hasModel(modelId)) return run(this.pinned);
    const lease = await this.lease(modelId);
    try {
      return await run(lease.model);
    } finally {
      lease.release(keepAliveMs);
    }
  }

  private async lease(modelId: string) {
    await this.known(modelId);
    return this.lifecycle.acquire(modelId);
  }

  /**
   * Resolves when the directory holds `modelId`, fetching it first when it lacks it and a fetcher
   * takes it (a fetch already running for it is waited for: its folder may be half written);
   * MODEL_NOT_FOUND when it is nowhere.
   */
  private async known(modelId: string): Promise<void> {
    if (typeof modelId !== "string") throw modelNotFound(String(modelId), this);
    if (this.fetches?.isFetching(modelId)) await this.fetches.fetch(modelId);
    if (this.inDirectory(modelId)) return;
    if (this.fetches?.accepts(modelId)) {
      await this.fetches.fetch(modelId);
      if (this.inDirectory(modelId)) return;
    }
    throw modelNotFound(modelId, this);
  }

  /** Whether the directory holds `modelId` (read again if not, at most once a second), or its folder with the dtype after a ":". */
  private inDirectory(modelId: string): boolean {
    if (this.directory.has(modelId)) return true;
    this.rescan();
    if (this.directory.has(modelId)) return true;
    const colon = modelId.lastIndexOf(":");
    const dtype = modelId.slice(colon + 1) as ModelDtype;
    const folder = colon > 0 && MODEL_DTYPES.includes(dtype) ? this.directory.get(modelId.slice(0, colon)) : undefined;
    const variant = folder && describeModelDir(modelId, folder.dir, this.logger, dtype);
    if (variant) this.directory.set(modelId, variant);
    return variant !== undefined;
  }

  private rescan(force = false): void {
    const now = Date.now();
    if (!force && now - this.scannedAt < RESCAN_MS) return;
    this.scannedAt = now;
    const found = scanModelsDir(this.root, this.logger, this.directory);
    // A folder gone from disk stays listed while its model is loaded (it is served from memory).
    const kept = [...this.directory.values()].filter((model) => this.lifecycle.status(model.id).state !== "unloaded" && !found.some((f) => f.id === model.id));
    this.directory = new Map([...found, ...kept].map((model) => [model.id, model]));
  }
}
