/**
 * `OnnxPipeline`: core's `ModelPipeline` contract, served by two threads: the tokenizer thread
 * (tokenizer-thread.ts) encodes prompts, chats and text steps, and serves `tokenize`,
 * `countTokens` and `detokenize`; the engine thread (src/engine/) schedules, runs the model, samples
 * and turns tokens into text. This side, on the caller's thread, only checks requests, passes
 * them on, and turns the engine's batched events back into promises and async iterables, so the
 * caller's event loop stays free.
 *
 * `stats()` returns the engine's figures as of its last message (each reply carries them, so they
 * are current whenever a reply arrives). If the engine thread dies, every request in flight fails
 * with an internal error and a new engine is started; requests meanwhile get BUSY.
 */
import type { Worker } from "node:worker_threads";
import {
  errors,
  type ChatMessage,
  type ChoiceGroup,
  type GenerateRequest,
  type GenerationEvent,
  type GenerationResult,
  type ModelInfo,
  type ModelPipeline,
  type PipelineStats,
  type StepRequest,
  type StepResult,
  type Tokenization,
  type TokenLogprob,
} from "@modelnode/core/pipeline";
import type { FromEngine, ToEngine } from "../messages/engine-protocol.js";
import type { ResolvedSampling } from "../messages/sampling.js";
import { deserializeError } from "../messages/errors.js";
import { stopRuns } from "../messages/run-flags.js";
import { stepAddsSpecialTokens, stepCancelled } from "../messages/steps.js";
import { formatSamplerState } from "../shared/sampler-state.js";
import { grammarSource, type GrammarSource } from "../shared/grammar-spec.js";
import { checkTools } from "../shared/tool-grammar.js";
import type { EngineThread } from "./engine-thread.js";
import { EventQueue } from "./event-queue.js";
import type { ResolvedOptions } from "./options.js";
import { chatInput, checkResume, generationInput, resolveSampling } from "./request-settings.js";
import { ChoiceGroups, chunks } from "./choice-groups.js";
import { TokenizerThread } from "./tokenizer-thread.js";

/**
 * Text pieces a stream may hold unread before the engine holds its generation (it resumes when
 * the reader is down to a quarter): a client that stops reading stops costing model runs.
 */
const STREAM_BACKLOG = 64;

/** How long process exit waits for a model run in progress (one run; a long prefill chunk can take a while). */
const EXIT_WAIT_MS = 10_000;

/** `sent`: the request reached the engine (until then it is being encoded); `cancelled`: cancelled before that. */
type Pending = { sent: boolean; cancelled: boolean; cleanup: () => void } & (
  /** `logprobs`: every token's so far, for the result (when the request asks for them). */
  | { kind: "stream"; queue: EventQueue<GenerationEvent>; logprobs?: TokenLogprob[] }
  | { kind: "step"; resolve: (result: StepResult) => void; reject: (error: Error) => void }
);

export class OnnxPipeline implements ModelPipeline {
  private readonly pending = new Map<number, Pending>();
  private readonly sessionIds = new Set<string>();
  private readonly tokenizers: TokenizerThread;
  private readonly choiceGroups = new ChoiceGroups();
  private nextId = 1;
  private latestStats: PipelineStats;
  private worker: Worker | undefined;
  private runFlags: Int32Array | undefined;
  private closing: Promise<void> | undefined;
  /** On process exit: let the engine's current run finish first (see messages/run-flags.ts). */
  private readonly onProcessExit = () => {
    if (this.runFlags) stopRuns(this.runFlags, EXIT_WAIT_MS);
  };
  /** An uncaught exception nobody handles ends the process without an 'exit' event: the same wait. */
  private readonly onFatalException = () => {
    if (process.listenerCount("uncaughtException") === 0) this.onProcessExit();
  };

  constructor(
    private readonly options: ResolvedOptions,
    private readonly models: readonly ModelInfo[],
    private readonly engine: EngineThread,
  ) {
    this.latestStats = emptyStats(models.length);
    this.tokenizers = new TokenizerThread(models, options.models);
    this.attach(engine);
    process.on("exit", this.onProcessExit);
    process.on("uncaughtExceptionMonitor", this.onFatalException);
  }

  /** Resolves once the tokenizer thread holds every model's tokenizer (createOnnxPipeline waits for it). */
  warm(): Promise<void> {
    return this.tokenizers.warm();
  }

  listModels(): ModelInfo[] {
    return this.models.map((model) => (model.eosTokenIds ? { ...model, eosTokenIds: [...model.eosTokenIds] } : { ...model }));
  }

  hasModel(modelId: string): boolean {
    return this.models.some((model) => model.id === modelId);
  }

  tokenize(modelId: string, text: string): Promise<Tokenization> {
    return this.tokenizers.tokenize(modelId, text);
  }

  countTokens(modelId: string, text: string): Promise<number> {
    return this.tokenizers.countTokens(modelId, text);
  }

  /** The ids a generation of these messages (offering these tools) would start from (checked as a generation's chat and tools are). */
  tokenizeChat(modelId: string, messages: readonly ChatMessage[], tools?: GenerateRequest["tools"]): Promise<number[]> {
    return this.tokenizers.inputIds(modelId, chatInput(messages, tools, this.models.find((m) => m.id === modelId)?.toolCallFormat, this.options));
  }

  async countChatTokens(modelId: string, messages: readonly ChatMessage[], tools?: GenerateRequest["tools"]): Promise<number> {
    return (await this.tokenizeChat(modelId, messages, tools)).length;
  }

  /** Special tokens (BOS, EOS, …) are left out of the text, as in generated text. */
  detokenize(modelId: string, ids: number[]): Promise<string> {
    return this.tokenizers.detokenize(modelId, ids);
  }

  async generate(request: GenerateRequest): Promise<GenerationResult> {
    for await (const event of this.stream(request)) {
      if (event.kind === "done") return event.result;
    }
    throw new Error("generation ended without a result");
  }

  stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    return { [Symbol.asyncIterator]: () => this.startStream(request) };
  }

  step(request: StepRequest): Promise<StepResult> {
    const { signal, inputIds, ...rest } = request;
    return new Promise<StepResult>((resolve, reject) => {
      const id = this.nextId++;
      const cleanup = this.onAbort(id, signal);
      const pending: Pending = { kind: "step", resolve, reject, cleanup, sent: false, cancelled: false };
      this.pending.set(id, pending);
      if (typeof inputIds !== "string") {
        pending.sent = true;
        return this.post({ type: "step", id, request: { ...rest, inputIds } }, id);
      }
      this.whenEncoded(id, this.tokenizers.encode(request.modelId, inputIds, stepAddsSpecialTokens(request.step)), (ids) => {
        if (pending.cancelled) return this.settle(id, stepCancelled(request.sessionId, request.step));
        this.post({ type: "step", id, request: { ...rest, inputIds: ids } }, id);
      });
    });
  }

  closeSession(sessionId: string): boolean {
    this.worker?.postMessage({ type: "closeSession", sessionId } satisfies ToEngine);
    return this.sessionIds.delete(sessionId);
  }

  stats(): PipelineStats {
    return { ...this.latestStats };
  }

  /**
   * Cancels running generations and steps (they end "cancelled" / CANCELLED), fails queued
   * generations with SHUTTING_DOWN, waits for the run in progress, then frees sessions and models.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const tokenizersClosed = this.tokenizers.close();
    const worker = this.worker;
    if (worker) {
      worker.ref();
      const closed = new Promise<void>((resolve) => {
        worker.on("message", (message: FromEngine) => message.type === "closed" && resolve());
        worker.once("exit", () => resolve());
      });
      worker.postMessage({ type: "close" } satisfies ToEngine);
      await closed;
      this.worker = undefined;
      await worker.terminate();
    }
    process.off("exit", this.onProcessExit);
    process.off("uncaughtExceptionMonitor", this.onFatalException);
    this.failAll(errors.shuttingDown("The model pipeline is closed."));
    this.sessionIds.clear();
    await tokenizersClosed;
  }

  private startStream(request: GenerateRequest): AsyncIterator<GenerationEvent> {
    const id = this.nextId++;
    const queue = new EventQueue<GenerationEvent>(
      () => this.cancel(id),
      (backlogged) => this.worker?.postMessage({ type: backlogged ? "pause" : "resume", id } satisfies ToEngine),
      STREAM_BACKLOG,
    );
    try {
      const input = generationInput(request, this.options);
      const info = this.models.find((m) => m.id === request.modelId);
      const vocabSize = info?.vocabSize;
      const settings = resolveSampling(request, this.options, this.engine.samplingDefaults?.[request.modelId], vocabSize);
      const resume = checkResume(request.resume, vocabSize);
      // Checked and lowered here (pure JS); read and compiled on the engine's grammar thread.
      let grammar = request.grammar === undefined ? undefined : grammarSource(request.grammar, this.options);
      if (request.tools !== undefined && info !== undefined) {
        const tools = checkTools(request, info.toolCallFormat, this.options);
        if (request.toolChoice !== "none" && "messages" in input) input.tools = tools.tools;
        // "auto" with a grammar too: calls or that grammar; otherwise the calls' grammar alone.
        if (tools.grammar) grammar = tools.grammar.mode === "auto" && grammar !== undefined && grammar.kind !== "tools" ? { ...tools.grammar, otherwise: grammar } : tools.grammar;
      }
      const cleanup = this.onAbort(id, request.signal);
      const pending: Pending = { kind: "stream", queue, cleanup, sent: false, cancelled: false, ...(settings.sampling.logprobs !== undefined ? { logprobs: [] } : {}) };
      this.pending.set(id, pending);
      // Cancelled while it was encoded: the engine ends it "cancelled" before any model run.
      const cancelled = () => pending.cancelled || request.signal?.aborted === true;
      const place = this.choiceGroups.join(request, input, settings, { id, seed: settings.sampling.seed, cancelled });
      if (place === "joined") return queue; // its group's first choice sends it
      const encoded = this.tokenizers.inputIds(request.modelId, input);
      if (place === "first") this.sendGroup(request.choice!.group, request.modelId, settings, encoded, grammar);
      else {
        this.whenEncoded(id, encoded, (promptIds) => {
          this.post({ type: "generate", id, modelId: request.modelId, promptIds, settings, cancelled: cancelled(), ...(resume ? { resume } : {}), ...(grammar ? { grammar } : {}) }, id);
        });
      }
    } catch (error) {
      queue.fail(error as Error);
    }
    return queue;
  }

  /**
   * A choice group's generations, once their prompt is encoded: one message per `maxBatchSize` of
   * them (the engine prefills each message's prompt once); an encoding error fails them all.
   */
  private sendGroup(group: ChoiceGroup, modelId: string, settings: ResolvedSampling, encoded: Promise<number[]>, grammar: GrammarSource | undefined): void {
    encoded.then(
      (promptIds) => {
        const members = this.choiceGroups.close(group).filter((member) => this.pending.has(member.id));
        for (const [first, ...others] of chunks(members, this.options.maxBatchSize)) {
          for (const member of [first, ...others]) this.pending.get(member.id)!.sent = true;
          const choices = others.map((member) => ({ id: member.id, seed: member.seed, cancelled: member.cancelled() }));
          const own = { ...settings, sampling: { ...settings.sampling, seed: first.seed } };
          this.post({ type: "generate", id: first.id, modelId, promptIds, settings: own, cancelled: first.cancelled(), choices, ...(grammar ? { grammar } : {}) }, first.id);
        }
      },
      (error: Error) => {
        for (const member of this.choiceGroups.close(group)) this.settle(member.id, error);
      },
    );
  }

  /** Once a request's text is encoded (tokenizer thread), `send` passes it on; an encoding error fails it. */
  private whenEncoded(id: number, ids: Promise<number[]>, send: (ids: number[]) => void): void {
    ids.then(
      (value) => {
        const pending = this.pending.get(id);
        if (!pending) return; // settled meanwhile (the pipeline closed)
        pending.sent = true;
        send(value);
      },
      (error: Error) => this.settle(id, error),
    );
  }

  /** Sends a request, or fails it (and the choices it carries) at once when there is no engine to take it. */
  private post(message: ToEngine & { id: number }, id: number): void {
    const ids = [id, ...(message.type === "generate" ? (message.choices ?? []).map((choice) => choice.id) : [])];
    if (this.closing) return ids.forEach((each) => this.settle(each, errors.shuttingDown("The model pipeline is closed.")));
    if (!this.worker) return ids.forEach((each) => this.settle(each, errors.busy("The model engine is restarting; retry shortly.")));
    this.worker.ref();
    this.worker.postMessage(message);
  }

  /** Abort → cancel message; returns what removes the listener. */
  private onAbort(id: number, signal: AbortSignal | undefined): () => void {
    if (!signal) return () => {};
    const abort = () => this.cancel(id);
    if (signal.aborted) queueMicrotask(abort);
    else signal.addEventListener("abort", abort, { once: true });
    return () => signal.removeEventListener("abort", abort);
  }

  private cancel(id: number): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    if (!pending.sent) pending.cancelled = true;
    else this.worker?.postMessage({ type: "cancel", id } satisfies ToEngine);
  }

  private attach({ worker, runFlags }: Pick<EngineThread, "worker" | "runFlags">): void {
    this.worker = worker;
    this.runFlags = runFlags;
    worker.unref(); // referenced only while requests are in flight
    worker.on("message", (message: FromEngine) => this.receive(message));
    worker.on("error", (error) => this.engineDied(worker, error));
    worker.on("exit", (code) => this.engineDied(worker, new Error(`the model engine thread exited (code ${code})`)));
  }

  private receive(message: FromEngine): void {
    if (message.type === "log") {
      this.options.logger[message.level](message.obj, message.msg);
      return;
    }
    if (message.type !== "events") return;
    this.latestStats = message.stats;
    for (const event of message.events) {
      const [kind] = event;
      if (kind === "sessionGone") {
        this.sessionIds.delete(event[1]);
        continue;
      }
      const id = event[1];
      const pending = this.pending.get(id);
      if (!pending) continue;
      if (kind === "text" && pending.kind === "stream") {
        const [, , text, tokenIds, logprobs, samplerState] = event;
        if (logprobs) pending.logprobs?.push(...logprobs);
        const textEvent: GenerationEvent = { kind: "text", text, tokenIds };
        if (logprobs) textEvent.logprobs = logprobs;
        if (samplerState !== undefined) textEvent.samplerState = formatSamplerState(samplerState);
        pending.queue.push(textEvent);
      } else if (kind === "done" && pending.kind === "stream") {
        pending.queue.push({ kind: "done", result: pending.logprobs ? { ...event[2], logprobs: pending.logprobs } : event[2] });
        this.settle(id);
      } else if (kind === "step" && pending.kind === "step") {
        this.sessionIds.add(event[2].sessionId);
        pending.resolve(event[2]);
        this.settle(id);
      } else if (kind === "error") this.settle(id, deserializeError(event[2]));
    }
    if (this.pending.size === 0 && !this.closing) this.worker?.unref();
  }

  /** Ends request `id`: successfully, or failing with `error`. */
  private settle(id: number, error?: Error): void {
    const pending = this.pending.get(id);
    this.pending.delete(id);
    if (pending) pending.cleanup();
    if (error && pending?.kind === "step") pending.reject(error);
    else if (error && pending?.kind === "stream") pending.queue.fail(error);
    else if (pending?.kind === "stream") pending.queue.end();
  }

  private failAll(error: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id, error);
  }

  private engineDied(worker: Worker, error: Error): void {
    if (this.worker !== worker || this.closing) return;
    this.worker = undefined;
    this.options.logger.error({ err: error }, "model engine thread died; failing its requests and starting a new one");
    this.failAll(new Error(`model engine failed: ${error.message}`));
    this.sessionIds.clear();
    this.latestStats = emptyStats(this.models.length);
    void this.engine.restart().then(
      (engine) => {
        if (this.closing) return void engine.worker.terminate();
        this.attach(engine);
        this.options.logger.info({}, "model engine restarted");
      },
      (restartError) => this.options.logger.error({ err: restartError }, "model engine could not be restarted"),
    );
  }
}

function emptyStats(models: number): PipelineStats {
  return {
    activeSessions: 0,
    generationsInFlight: 0,
    cacheBytes: 0,
    cacheBytesCommitted: 0,
    queuedGenerations: 0,
    batchSize: 0,
    models,
    generationsCompleted: 0,
    tokensGenerated: 0,
    sessionsExpired: 0,
    sessionsEvicted: 0,
    prefillRuns: 0,
    prefillRows: 0,
    decodeRuns: 0,
    decodeRows: 0,
  };
}
