/**
 * `OnnxPipeline`: the `ModelPipeline` contract of @modelnode/core on ONNX Runtime. It owns the
 * loaded models, the run queue shared by every request, the admission gate for generations and
 * the step sessions; generation and step logic live in their own modules.
 */
import {
  PipelineError,
  type GenerateRequest,
  type GenerationEvent,
  type GenerationResult,
  type ModelInfo,
  type ModelPipeline,
  type PipelineStats,
  type StepRequest,
  type StepResult,
} from "@modelnode/core";
import { runGeneration } from "./generation.js";
import type { LoadedModel } from "./loaded-model.js";
import type { ResolvedOptions } from "./options.js";
import { checkContext, promptIds, resolveSampling } from "./request-settings.js";
import { AbortedError, AdmissionGate, RunQueue } from "./scheduler.js";
import { Sequence } from "./sequence.js";
import { StepSessionStore, type StepSession } from "./step-sessions.js";
import { runStep, type StepContext } from "./step-runner.js";

export class OnnxPipeline implements ModelPipeline {
  private readonly runQueue = new RunQueue();
  private readonly gate: AdmissionGate;
  private readonly sessions: StepSessionStore;
  /** Every sequence holding a cache (generations and step sessions), for byte accounting. */
  private readonly liveSequences = new Set<Sequence>();
  private readonly closing = new AbortController();
  /** What a step needs of the pipeline. */
  private readonly stepContext: StepContext;
  private closed = false;
  private tokensGenerated = 0;
  private generationsCompleted = 0;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly models: ReadonlyMap<string, LoadedModel>,
  ) {
    this.gate = new AdmissionGate(options.maxConcurrentGenerations, options.maxQueuedGenerations);
    this.sessions = new StepSessionStore({
      maxSessions: options.maxSessions,
      idleMs: options.sessionIdleMs,
      logger: options.logger,
      onRelease: (sequence) => this.liveSequences.delete(sequence),
    });
    this.stepContext = {
      options,
      runQueue: this.runQueue,
      sessions: this.sessions,
      model: (id) => this.model(id),
      openSequence: (model) => this.openSequence(model),
      releaseSequence: (sequence) => this.liveSequences.delete(sequence),
      makeRoom: (bytes, keep) => this.makeRoom(bytes, keep),
    };
  }

  listModels(): ModelInfo[] {
    return [...this.models.values()].map((model) => ({ ...model.info }));
  }

  hasModel(modelId: string): boolean {
    return this.models.has(modelId);
  }

  async generate(request: GenerateRequest): Promise<GenerationResult> {
    for await (const event of this.stream(request)) {
      if (event.kind === "done") return event.result;
    }
    throw new Error("generation ended without a result");
  }

  stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    return { [Symbol.asyncIterator]: () => this.streamEvents(request) };
  }

  step(request: StepRequest): Promise<StepResult> {
    this.assertOpen();
    return runStep(this.stepContext, request, this.requestSignal(request.signal));
  }

  closeSession(sessionId: string): boolean {
    const session = this.sessions.get(sessionId);
    if (!session) return false;
    // A session mid-step is dropped from the store now; its step finishes on a detached sequence.
    return this.sessions.delete(sessionId);
  }

  stats(): PipelineStats {
    return {
      activeSessions: this.sessions.size,
      generationsInFlight: this.gate.running,
      cacheBytes: this.cacheBytes(),
      queued: this.gate.waiting,
      queuedGenerations: this.gate.waiting, // the same figure, under an explicit name
      runsWaiting: this.runQueue.waiting,
      models: this.models.size,
      generationsCompleted: this.generationsCompleted,
      tokensGenerated: this.tokensGenerated,
      sessionsExpired: this.sessions.expired,
      sessionsEvicted: this.sessions.evicted,
    };
  }

  /**
   * Cancels running generations and steps (they end "cancelled" / CANCELLED), fails queued
   * generations with SHUTTING_DOWN, waits for the run in progress, then frees sessions and models.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    const shuttingDown = new PipelineError("SHUTTING_DOWN", "the model pipeline is closing");
    this.gate.rejectWaiting(shuttingDown);
    await this.runQueue.close(shuttingDown);
    this.sessions.clear();
    this.liveSequences.clear();
    for (const model of this.models.values()) await model.session.release();
    this.options.logger.info({ models: [...this.models.keys()] }, "model pipeline closed");
  }

  private async *streamEvents(request: GenerateRequest): AsyncGenerator<GenerationEvent> {
    this.assertOpen();
    const model = this.model(request.modelId);
    const settings = resolveSampling(request, this.options);
    const ids = promptIds(model, request.prompt);
    checkContext(model, ids.length, 1); // room for at least one generated token
    const signal = this.requestSignal(request.signal);
    const cancelled = (): GenerationEvent => ({
      kind: "done",
      result: { text: "", finishReason: "cancelled", usage: { promptTokens: ids.length, completionTokens: 0 } },
    });

    let leave: () => void;
    try {
      leave = await this.gate.enter(signal);
    } catch (error) {
      if (error instanceof AbortedError) return yield cancelled();
      throw error;
    }
    const sequence = this.openSequence(model);
    try {
      if (!this.makeRoom(sequence.cacheBytesAfter(ids.length + settings.maxTokens))) {
        throw new PipelineError("BUSY", "not enough cache memory for this generation now; retry later", {
          maxCacheBytes: this.options.maxCacheBytes,
        });
      }
      yield* runGeneration(sequence, {
        promptIds: ids,
        ...settings,
        signal,
        onToken: () => this.tokensGenerated++,
        onDone: () => this.generationsCompleted++,
      });
    } finally {
      // Runs on completion, error, and when the consumer stops iterating early.
      this.liveSequences.delete(sequence);
      leave();
    }
  }

  private openSequence(model: LoadedModel): Sequence {
    const sequence = new Sequence(model, this.runQueue, this.options.prefillChunkTokens);
    this.liveSequences.add(sequence);
    return sequence;
  }

  /** Evicts idle step sessions (never `keep`) until `bytes` more cache fit under maxCacheBytes. */
  private makeRoom(bytes: number, keep?: StepSession): boolean {
    return this.sessions.evictUntil(() => this.cacheBytes() + bytes <= this.options.maxCacheBytes, keep);
  }

  private cacheBytes(): number {
    let total = 0;
    for (const sequence of this.liveSequences) total += sequence.cacheBytes;
    return total;
  }

  private model(modelId: string): LoadedModel {
    const model = this.models.get(modelId);
    if (!model) {
      throw new PipelineError("MODEL_NOT_FOUND", `no model "${modelId}" is loaded`, { available: [...this.models.keys()] });
    }
    return model;
  }

  /** The request's signal combined with the pipeline's own, which aborts on close. */
  private requestSignal(signal: AbortSignal | undefined): AbortSignal {
    return signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal;
  }

  private assertOpen(): void {
    if (this.closed) throw new PipelineError("SHUTTING_DOWN", "the model pipeline is closed");
  }
}
