/**
 * The engine: everything that touches the models, on the worker thread. It takes requests from
 * the pipeline, admits generations by batch room and cache memory (admission.ts), keeps legacy
 * step sessions, drives one `ModelRunner` per model in a loop, and sends back events in one
 * message per loop iteration.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { errors, isCodedError, type GenerationResult, type ResumeFrom, type PipelineStats, type StepRequest, type StepResult } from "@modelnode/core/pipeline";
import type { EngineEvent, EngineLimits, EngineStepRequest, FromEngine, GroupChoice, ToEngine } from "../messages/engine-protocol.js";
import { serializeError } from "../messages/errors.js";
import type { ResolvedSampling } from "../messages/sampling.js";
import type { GrammarSource } from "../shared/grammar-spec.js";
import type { PipelineLogger } from "../shared/logger.js";
import { Admission } from "./admission.js";
import { GenerationRow, type GenerationSettings } from "./generation-row.js";
import { GrammarGate } from "./grammar-gate.js";
import { KvBatch } from "./kv-batch.js";
import type { LoadedModel } from "./loaded-model.js";
import { cancelledStep, ModelRunner, type StepJob } from "./model-runner.js";
import { prefixCacheFor, prefixCacheStats } from "./prefix-cache.js";
import { PromptLookup } from "./prompt-lookup.js";
import { checkContext } from "./request-checks.js";
import { checkStep } from "./step-requests.js";
import { StepSessionStore } from "./step-sessions.js";

export class Engine {
  /** By model id (aliases map to their model's runner). */
  private readonly runners = new Map<string, ModelRunner>();
  /** Each runner once, for the loops over all of them. */
  private readonly distinctRunners: ModelRunner[];
  private readonly sessions: StepSessionStore;
  private readonly admission: Admission;
  private readonly generations = new Map<number, GenerationRow>();
  /** Constrained generations wait there while their grammar is prepared. */
  private readonly grammars: GrammarGate;
  private readonly steps = new Map<number, StepJob>();
  private events: EngineEvent[] = [];
  private flushScheduled = false;
  private looping: Promise<void> | undefined;
  private closed = false;
  private generationsCompleted = 0;
  private tokensGenerated = 0;

  constructor(
    private readonly models: ReadonlyMap<string, LoadedModel>,
    private readonly limits: EngineLimits,
    private readonly logger: PipelineLogger,
    private readonly send: (message: FromEngine) => void,
    /** Takes the messages waiting on the thread's port, without waiting for an event-loop turn. */
    private readonly pendingMessages: () => ToEngine[] = () => [],
  ) {
    const hooks = {
      stepDone: (job: StepJob, result: StepResult) => this.stepDone(job, result),
      stepFailed: (job: StepJob, error: Error) => this.stepFailed(job, error),
      generationFailed: (row: GenerationRow, error: Error) => this.generationFailed(row, error),
      prefilled: () => this.flush(),
    };
    // One runner per loaded model: aliases (ids of one folder) share it, and so share its batches.
    const byModel = new Map<LoadedModel, ModelRunner>();
    for (const [id, model] of models) {
      let runner = byModel.get(model);
      if (!runner) byModel.set(model, (runner = new ModelRunner(model, limits, hooks, prefixCacheFor(model, limits, (bytes) => this.admission.committedBytes() + bytes <= limits.maxCacheBytes))));
      this.runners.set(id, runner);
    }
    this.distinctRunners = [...byModel.values()];
    this.sessions = new StepSessionStore({
      maxSessions: limits.maxSessions,
      idleMs: limits.sessionIdleMs,
      logger,
      onRelease: (session) => {
        this.emit(["sessionGone", session.id]);
        this.scheduleFlush();
      },
    });
    const prefixCaches = this.distinctRunners.flatMap((runner) => (runner.prefixCache ? [runner.prefixCache] : []));
    this.admission = new Admission(limits, this.sessions, this.distinctRunners, prefixCaches);
    const grammarLimits = { compileTimeoutMs: limits.grammarCompileTimeoutMs, cacheSize: limits.grammarCacheSize, jsonMaxWhitespace: limits.jsonMaxWhitespace };
    this.grammars = new GrammarGate(grammarLimits, logger, {
      failed: (row, error) => {
        this.generationFailed(row, error);
        this.scheduleFlush();
      },
      masked: () => this.wake(),
    });
  }

  handle(message: ToEngine): void {
    try {
      switch (message.type) {
        case "generate":
          this.generate(message.id, message.modelId, message.promptIds, message.settings, message.resume, message.choices, message.grammar);
          // Aborted before it was sent: it ends "cancelled" before any model run.
          if (message.cancelled) this.cancel(message.id);
          for (const choice of message.choices ?? []) if (choice.cancelled) this.cancel(choice.id);
          return;
        case "step":
          return this.step(message.id, message.request);
        case "cancel":
          return this.cancel(message.id);
        case "pause":
        case "resume": {
          const row = this.generations.get(message.id);
          if (row) row.paused = message.type === "pause";
          this.wake();
          return;
        }
        case "closeSession":
          this.sessions.delete(message.sessionId);
          return;
        case "close":
          void this.close();
          return;
      }
    } catch (error) {
      // A refused choice group: every choice gets the error.
      if ("id" in message) for (const id of [message.id, ...(message.type === "generate" ? (message.choices ?? []).map((c) => c.id) : [])]) this.emit(["error", id, serializeError(error)]);
    } finally {
      this.scheduleFlush();
    }
  }

  /**
   * `choices`: the other choices of its group (same prompt and settings, their own seeds), prefilled
   * with it. `grammar`: each choice follows it; they are admitted once it is ready for all of them.
   */
  private generate(id: number, modelId: string, ids: number[], settings: ResolvedSampling, resume?: ResumeFrom, choices: GroupChoice[] = [], grammar?: GrammarSource): void {
    this.assertOpen();
    const model = this.model(modelId);
    const generated = resume?.generatedIds ?? [];
    // Room for at least one generated token (a resumed generation's earlier tokens are fed too;
    // one that already filled the context or maxTokens ends at once, "length").
    const resumedFull = generated.length > 0 && (generated.length >= settings.maxTokens || ids.length + generated.length >= model.contextLength);
    checkContext(model, ids.length + (resumedFull ? 0 : generated.length), resumedFull ? 0 : 1);
    const remaining = Math.max(settings.maxTokens - generated.length, 0);
    const reservedBytes = Math.min(ids.length + generated.length + remaining, model.contextLength) * model.cacheBytesPerToken;
    const runner = this.runners.get(modelId)!;
    // A choice group is admitted (and prefilled) together, in parts that fit the cache budget.
    const together = Math.min(1 + choices.length, Math.max(1, Math.floor(this.limits.maxCacheBytes / Math.max(reservedBytes, 1))));
    this.admission.checkRoom(runner, reservedBytes * together);
    // Constrained rows never guess (a guess would have to pass the grammar's mask first).
    const speculate = grammar === undefined && settings.speculative !== false && this.limits.speculative.method === "ngram";
    const row = this.newRow(id, model, { promptIds: ids, ...settings, ...(resume ? { resume } : {}) }, speculate);
    const siblings = choices.map((choice) => this.newRow(choice.id, model, { promptIds: ids, ...settings, sampling: { ...settings.sampling, seed: choice.seed } }, speculate));
    const rows = [row, ...siblings];
    const admit = () => {
      // A resumed row replays its earlier tokens' text (emitting what was not delivered yet); it
      // may be over already (maxTokens or the context reached, or a stop string in that text).
      if (row.replay()) return;
      const live = rows.filter((each) => !each.done); // choices cancelled while their grammar was prepared
      for (let i = 0; i < live.length; i += together) this.admission.enqueue(live.slice(i, i + together), runner, reservedBytes);
      this.wake();
      this.scheduleFlush();
    };
    // Admitted once the grammar is ready (compiled on the grammar thread, or from its cache).
    if (grammar) this.grammars.hold(rows, model, grammar, generated, admit);
    else admit();
  }

  private newRow(id: number, model: LoadedModel, settings: GenerationSettings, speculate: boolean): GenerationRow {
    const row = new GenerationRow(id, model, settings, {
      text: (text, tokenIds, logprobs, samplerState) =>
        this.emit(samplerState !== undefined ? ["text", id, text, tokenIds, logprobs, samplerState] : logprobs ? ["text", id, text, tokenIds, logprobs] : ["text", id, text, tokenIds]),
      token: () => this.tokensGenerated++,
      done: (result) => this.generationDone(row, result),
      failed: (error) => this.generationFailed(row, error),
    });
    if (speculate) row.speculation = new PromptLookup(this.limits.speculative, row.inputIds);
    this.generations.set(id, row);
    return row;
  }

  private step(id: number, request: EngineStepRequest): void {
    this.assertOpen();
    const model = this.model(request.modelId);
    const { session, ids, mask } = checkStep(request, model, this.sessions);
    const heldBefore = request.step === 0 ? 0 : session.length;
    const plannedBytes = (heldBefore + ids.length) * model.cacheBytesPerToken;
    if (!this.admission.makeRoom(plannedBytes - this.admission.sessionBytes(session), session)) {
      if (request.step === 0 && session.length === 0) this.sessions.delete(session.id);
      throw errors.tooManySessions("The key/value cache memory limit is reached and no idle session can be evicted to make room; retry later.", {
        max_cache_bytes: this.limits.maxCacheBytes,
      });
    }
    if (request.step === 0) {
      session.cache = KvBatch.single(model);
      session.length = 0;
      session.cacheable = true;
      session.lastStep = -1; // until this step succeeds, no step n > 0 may follow
    }
    if (mask?.includes(0)) session.cacheable = false; // its columns no longer match its token ids
    session.busy = true;
    session.plannedBytes = plannedBytes;
    const job: StepJob = { requestId: id, session, step: request.step, inputIds: ids, cancelled: false };
    this.steps.set(id, job);
    this.runners.get(model.id)!.startStep(job, mask);
    this.wake();
  }

  private cancel(id: number): void {
    const row = this.generations.get(id);
    if (row && this.grammars.cancel(id)) return; // its grammar was still being prepared
    if (row) {
      if (this.admission.dequeue(row)) {
        row.finish("cancelled");
      } else {
        row.cancelled = true; // the runner ends it before its next run
        this.wake(); // a paused row leaves the loop idle
      }
      return;
    }
    const job = this.steps.get(id);
    if (job) job.cancelled = true;
  }

  // --- the loop -------------------------------------------------------------------------------

  private wake(): void {
    // Started from a microtask, so that the loop is recorded before it runs (a message it reads
    // from the port calls wake() again).
    this.looping ??= Promise.resolve()
      .then(() => this.loop())
      .finally(() => {
        this.looping = undefined;
        if (this.hasWork() && !this.closed) this.wake();
      });
  }

  private hasWork(): boolean {
    for (const runner of this.distinctRunners) if (runner.hasWork) return true;
    return false;
  }

  private async loop(): Promise<void> {
    while (this.hasWork()) {
      // A request that arrived during the last run is prefilled in this iteration, not the next:
      // the port is read here, before the iteration decides what to run.
      for (const message of this.pendingMessages()) this.handle(message);
      const runsBefore = this.runsMade();
      for (const runner of this.distinctRunners) {
        if (!runner.hasWork) continue;
        try {
          await runner.iterate();
        } catch (error) {
          // A bug, not a request's fault: whatever that model was doing fails, the engine lives on.
          this.logger.error({ err: error, model: runner.model.id }, "model runner failed; failing its requests");
          runner.abandon(error as Error);
        }
      }
      this.admission.admit();
      this.flush();
      // New requests and cancellations arrive between iterations: onnxruntime-node starts every
      // run from a setImmediate, so the event loop (and this thread's message port) gets a turn
      // before each run. An iteration without a run yields explicitly.
      if (this.runsMade() === runsBefore) await nextTurn();
    }
  }

  private runsMade(): number {
    let runs = 0;
    for (const runner of this.distinctRunners) runs += runner.counts.prefillRuns + runner.counts.decodeRuns;
    return runs;
  }

  // --- outcomes -------------------------------------------------------------------------------

  private generationDone(row: GenerationRow, result: GenerationResult): void {
    this.generations.delete(row.requestId);
    this.admission.release(row);
    this.generationsCompleted++;
    this.emit(["done", row.requestId, result]);
  }

  private generationFailed(row: GenerationRow, error: Error): void {
    // A coded error is the request's fault (an invalid grammar), not the node's.
    if (isCodedError(error)) this.logger.debug({ err: error, model: row.model.id }, "generation refused");
    else this.logger.error({ err: error, model: row.model.id }, "generation failed");
    row.cancelled = true;
    this.generations.delete(row.requestId);
    this.admission.release(row);
    this.emit(["error", row.requestId, serializeError(error)]);
  }

  private stepDone(job: StepJob, result: StepResult): void {
    this.steps.delete(job.requestId);
    job.session.busy = false;
    this.sessions.touch(job.session);
    this.emit(["step", job.requestId, result]);
  }

  private stepFailed(job: StepJob, error: Error): void {
    this.steps.delete(job.requestId);
    const { session } = job;
    session.busy = false;
    // A failed step 0 built nothing usable (the session was emptied when it started).
    // A failed step n > 0 leaves the session as it was: its cache is replaced only on success.
    const unusable = job.step === 0;
    if (unusable && this.sessions.get(session.id) === session) this.sessions.delete(session.id);
    else this.sessions.touch(session);
    if (!isCodedError(error)) this.logger.error({ err: error, model: session.model.id }, "step failed");
    this.emit(["error", job.requestId, serializeError(error)]);
  }

  private emit(event: EngineEvent): void {
    this.events.push(event);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.events.length === 0) return;
    const events = this.events;
    this.events = [];
    this.send({ type: "events", events, stats: this.stats() });
  }

  stats(): PipelineStats {
    const batches = new Set<KvBatch<unknown>>();
    let batchSize = 0;
    const runs = { prefillRuns: 0, prefillRows: 0, decodeRuns: 0, decodeRows: 0, specDraftTokens: 0, specAcceptedTokens: 0 };
    for (const runner of this.distinctRunners) {
      for (const batch of runner.batches()) batches.add(batch);
      batchSize += runner.batchSize;
      for (const key of ["prefillRuns", "prefillRows", "decodeRuns", "decodeRows"] as const) runs[key] += runner.counts[key];
      runs.specDraftTokens += runner.speculator?.draftTokens ?? 0;
      runs.specAcceptedTokens += runner.speculator?.acceptedTokens ?? 0;
    }
    for (const session of this.sessions.values()) batches.add(session.cache);
    let cacheBytes = 0; // running generations' and sessions' (prefixCacheBytes apart)
    for (const batch of batches) cacheBytes += batch.cacheBytes;
    return {
      activeSessions: this.sessions.size,
      generationsInFlight: this.admission.running,
      cacheBytes,
      cacheBytesCommitted: this.admission.committedBytes(),
      queuedGenerations: this.admission.waiting,
      batchSize,
      models: this.models.size,
      generationsCompleted: this.generationsCompleted,
      tokensGenerated: this.tokensGenerated,
      sessionsExpired: this.sessions.expired,
      sessionsEvicted: this.sessions.evicted,
      ...runs,
      ...prefixCacheStats(this.distinctRunners.flatMap((runner) => runner.prefixCache ?? [])),
    };
  }

  /**
   * Fails queued generations with SHUTTING_DOWN, cancels running ones and steps, waits for the run
   * in progress, frees sessions and models, and says "closed".
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const shuttingDown = errors.shuttingDown("The model pipeline is closing.");
    for (const row of [...this.admission.drain(), ...this.grammars.drain()]) {
      row.fail();
      this.generations.delete(row.requestId);
      this.emit(["error", row.requestId, serializeError(shuttingDown)]);
    }
    for (const runner of this.distinctRunners) {
      for (const work of runner.work()) work.cancelled = true;
    }
    this.flush();
    this.wake(); // paused rows alone leave the loop idle; the cancellations need it
    await this.looping;
    // Steps cancelled between runs are answered by the loop; anything left is answered here.
    for (const job of [...this.steps.values()]) this.stepFailed(job, cancelledStep(job));
    this.sessions.clear();
    this.flush();
    await this.grammars.dispose();
    for (const model of new Set(this.models.values())) await model.session.release();
    this.logger.info({ models: [...this.models.keys()] }, "model pipeline closed");
    this.send({ type: "closed" });
  }

  private model(modelId: string): LoadedModel {
    const model = this.models.get(modelId);
    if (!model) throw errors.modelNotFound(modelId, [...this.models.keys()]);
    return model;
  }

  private assertOpen(): void {
    if (this.closed) throw errors.shuttingDown("The model pipeline is closed.");
  }
}
