/**
 * The engine's side of structured output: the grammar thread (grammar/worker.ts, started on the
 * first constrained generation) and one `GrammarConstraint` per constrained row.
 *
 * Compiling a grammar (tens of milliseconds to seconds) and computing masks happen on that
 * thread, never on this one: unconstrained rows never wait for a grammar. After a run, each
 * constrained row's token goes to the grammar thread in one message per run; its next mask comes
 * back while the next run computes, and is taken without an event-loop turn (`poll`).
 *
 * Compile time is bounded: when a compile starts (a cache miss), a deadline (`compileTimeoutMs`)
 * starts here; past it the thread is terminated and started afresh, the request fails with
 * INVALID_GRAMMAR (its grammar is remembered as too slow, so a retry fails at once), and every
 * other open generation is reopened on the new thread by replaying the tokens it accepted (rows
 * sit out decode runs meanwhile). A thread that breaks (xgrammar's instance aborted) or dies is
 * replaced the same way; the generations still being opened then fail, as one of them broke it.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import { errors, isCodedError } from "@modelnode/core/pipeline";
import { deserializeError } from "../messages/errors.js";
import type { FromGrammar, GrammarModel, GrammarThreadOptions, ToGrammar } from "../messages/grammar-protocol.js";
import { GRAMMAR_FIELD, grammarKey, type GrammarSource } from "../shared/grammar-spec.js";
import type { PipelineLogger } from "../shared/logger.js";
import { GrammarConstraint, type ConstraintOwner } from "./grammar-constraint.js";
import type { LoadedModel } from "./loaded-model.js";

export interface GrammarLimits extends GrammarThreadOptions {
  compileTimeoutMs: number;
}

export interface GrammarHooks {
  /** The generation's grammar is ready (its first mask is here): it may be admitted. */
  opened(id: number): void;
  /** It cannot go on: an invalid grammar (INVALID_GRAMMAR), a compile past the deadline, or a fault. */
  failed(id: number, error: Error): void;
  /** A mask arrived for a row that waits for it: the engine's loop may have gone idle. */
  masked(): void;
}

interface Open {
  constraint: GrammarConstraint;
  model: GrammarModel;
  source: GrammarSource;
  key: string;
  /** Until its first "opened": the engine has not admitted it yet. */
  opening: boolean;
}

/** Grammars that took too long to compile, remembered so that a retry fails at once. */
const SLOW_KEYS = 256;
/** More restarts than this within RESTART_WINDOW_MS: the grammar thread cannot run; every open generation fails. */
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 10_000;

export class Grammars implements ConstraintOwner {
  private port: MessagePort | undefined;
  private worker: Worker | undefined;
  private readonly open = new Map<number, Open>();
  private outbox: [number, number][] = [];
  private flushScheduled = false;
  private deadline: { id: number; timer: NodeJS.Timeout } | undefined;
  private readonly slow = new Set<string>();
  /** When the grammar thread was last restarted (deadlines, faults), newest last. */
  private readonly restartTimes: number[] = [];

  constructor(
    private readonly limits: GrammarLimits,
    private readonly hooks: GrammarHooks,
    private readonly logger: PipelineLogger,
  ) {}

  /** A constraint for generation `id`, its grammar compiled (or cached) on the grammar thread; `hooks.opened` says when it is ready. */
  constrain(id: number, model: LoadedModel, source: GrammarSource, replay: readonly number[]): GrammarConstraint {
    const key = `${model.id}\n${grammarKey(source)}`;
    const constraint = new GrammarConstraint(id, this, replay);
    const state: Open = { constraint, model: { id: model.id, dir: model.dir, eosIds: [...model.eosTokenIds], vocabSize: model.signature.vocabSize }, source, key, opening: true };
    this.open.set(id, state);
    if (this.slow.has(key)) queueMicrotask(() => this.fail(id, errors.grammarCompileTimeout(this.limits.compileTimeoutMs, fieldOf(source))));
    else this.post(this.openMessage(state));
    return constraint;
  }

  private openMessage({ constraint, model, source, key }: Open): ToGrammar {
    return { type: "open", id: constraint.id, model, source, key, replay: constraint.accepted };
  }

  advance(id: number, token: number): void {
    this.outbox.push([id, token]);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // After the batch's rows are sampled (synchronously), before the next run starts.
    queueMicrotask(() => {
      this.flushScheduled = false;
      if (this.outbox.length === 0) return;
      const steps = this.outbox;
      this.outbox = [];
      this.post({ type: "advance", steps });
    });
  }

  close(id: number): void {
    if (!this.open.delete(id)) return;
    this.outbox = this.outbox.filter(([owner]) => owner !== id);
    this.post({ type: "close", ids: [id] });
  }

  poll(): void {
    if (!this.port) return;
    for (let next = receiveMessageOnPort(this.port); next; next = receiveMessageOnPort(this.port)) this.receive(next.message as FromGrammar);
  }

  private receive(message: FromGrammar): void {
    switch (message.type) {
      case "compiling":
        this.clearDeadline();
        this.deadline = { id: message.id, timer: setTimeout(() => this.timedOut(message.id), this.limits.compileTimeoutMs) };
        return;
      case "opened": {
        if (this.deadline?.id === message.id) this.clearDeadline();
        const state = this.open.get(message.id);
        if (!state) return;
        if (message.compileMs !== undefined) this.logger.debug({ model: state.model.id, ms: Math.round(message.compileMs) }, "grammar compiled");
        state.constraint.mask = message.mask;
        if (state.opening) {
          state.opening = false;
          this.hooks.opened(message.id);
        } else if (state.constraint.held) this.hooks.masked();
        return;
      }
      case "masks": {
        let waited = false;
        for (const [id, mask] of message.masks) {
          const state = this.open.get(id);
          if (!state || state.opening) continue;
          state.constraint.mask = mask;
          waited ||= state.constraint.held !== undefined;
        }
        if (waited) this.hooks.masked();
        return;
      }
      case "failed":
        if (this.deadline?.id === message.id) this.clearDeadline();
        return this.fail(message.id, deserializeError(message.error));
      case "broken":
        return this.restart(deserializeError(message.error));
    }
  }

  private fail(id: number, error: Error): void {
    const state = this.open.get(id);
    if (!state) return;
    this.open.delete(id);
    this.hooks.failed(id, error);
  }

  private timedOut(id: number): void {
    this.deadline = undefined;
    const state = this.open.get(id);
    if (state) this.slow.add(state.key);
    while (this.slow.size > SLOW_KEYS) this.slow.delete(this.slow.values().next().value!);
    this.logger.warn({ model: state?.model.id, limitMs: this.limits.compileTimeoutMs }, "a grammar compile ran past its deadline; restarting the grammar thread");
    this.fail(id, errors.grammarCompileTimeout(this.limits.compileTimeoutMs, state ? fieldOf(state.source) : GRAMMAR_FIELD));
    this.restart();
  }

  /**
   * A new grammar thread, every open generation reopened on it (`replay`: the tokens it accepted).
   * `broke`: the old one failed on a grammar; generations still being opened fail with it.
   */
  private restart(broke?: Error): void {
    const now = performance.now();
    this.restartTimes.push(now);
    while (this.restartTimes.length > 0 && now - this.restartTimes[0] > RESTART_WINDOW_MS) this.restartTimes.shift();
    // A thread that keeps failing (xgrammar cannot load, say) is not restarted for ever.
    const giveUp = broke !== undefined && this.restartTimes.length > MAX_RESTARTS;
    this.clearDeadline();
    const worker = this.worker;
    this.port?.close();
    this.worker = undefined;
    this.port = undefined;
    this.outbox = [];
    void worker?.terminate();
    if (broke) this.logger.error({ err: broke }, "the grammar thread failed; restarting it");
    for (const [id, state] of [...this.open]) {
      if (giveUp) this.fail(id, broke);
      else if (broke && state.opening) this.fail(id, isCodedError(broke) ? broke : errors.invalidGrammar("The grammar could not be prepared.", GRAMMAR_FIELD));
      else {
        state.constraint.mask = undefined;
        this.post(this.openMessage(state));
      }
    }
  }

  private clearDeadline(): void {
    if (this.deadline) clearTimeout(this.deadline.timer);
    this.deadline = undefined;
  }

  private post(message: ToGrammar): void {
    if (!this.port) this.start();
    this.port!.postMessage(message);
  }

  private start(): void {
    const { port1, port2 } = new MessageChannel();
    const options: GrammarThreadOptions = { jsonMaxWhitespace: this.limits.jsonMaxWhitespace, cacheSize: this.limits.cacheSize };
    const worker = new Worker(new URL("../grammar/worker.js", import.meta.url), { workerData: { ...options, port: port2 }, transferList: [port2], name: "modelnode-grammar" });
    worker.on("error", (error) => {
      if (this.worker === worker) this.restart(error);
    });
    worker.on("exit", (code) => {
      if (this.worker === worker) this.restart(new Error(`the grammar thread exited (code ${code})`));
    });
    port1.on("message", (message: FromGrammar) => this.receive(message));
    this.worker = worker;
    this.port = port1;
  }

  /** Ends the grammar thread (the engine is closing). */
  async dispose(): Promise<void> {
    this.clearDeadline();
    const worker = this.worker;
    this.worker = undefined;
    this.port?.close();
    this.port = undefined;
    this.open.clear();
    await worker?.terminate();
  }
}

/** The request field a grammar came from: its `grammar`, or its `tools`. */
function fieldOf(source: GrammarSource): string {
  return source.kind === "tools" ? "tools" : GRAMMAR_FIELD;
}
