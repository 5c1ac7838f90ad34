/**
 * `tokenize`, `countTokens` and `detokenize`, served by a thread of their own (tokenizer-worker.ts).
 *
 * Not the engine thread: there a call would wait behind model runs (a long prompt's prefill, a
 * slow model's decode step). Not the caller's thread either: building a tokenizer takes GPT-2's
 * vocabulary about 130 ms and 40 MB of heap, and encoding a long text takes milliseconds, which
 * on the node's thread would be time its sockets go unanswered. So the calls never touch a
 * session, a generation slot or the key/value cache, and never hold up the event loop.
 *
 * The thread starts on the first call and loads a model's tokenizer on the first call for that
 * model, from the same files with the same code as the engine (see tokenizer.ts), so the ids are
 * the ones a prompt gets. It keeps the process alive only while calls are in flight; if it dies,
 * its calls fail and the next call starts a new one.
 */
import { resolve } from "node:path";
import { Worker } from "node:worker_threads";
import { errors, type ModelInfo, type Tokenization } from "@modelnode/core/pipeline";
import { deserializeError } from "./engine-thread.js";
import type { SerializedError } from "./engine/protocol.js";
import { checkVocabulary } from "./request-settings.js";

/** What the tokenizer thread needs of a model. */
export interface TokenizerModel {
  /** Absolute model directory (tokenizer.json, tokenizer_config.json). */
  dir: string;
  bosTokenId?: number;
}

export type TokenizerCall = { op: "tokenize" | "count"; modelId: string; text: string } | { op: "detokenize"; modelId: string; ids: number[] };
export type TokenizerRequest = TokenizerCall & { id: number };
/** tokenize: a Tokenization; count: a number; detokenize: the text. */
export type TokenizerResult = Tokenization | number | string;
export type TokenizerReply = { id: number; result: TokenizerResult } | { id: number; error: SerializedError };

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
}

export class TokenizerThread {
  private readonly models: ReadonlyMap<string, ModelInfo>;
  private readonly workerModels: Record<string, TokenizerModel> = {};
  private readonly pending = new Map<number, Pending>();
  private worker: Worker | undefined;
  private nextId = 1;
  private closed = false;

  /** `dirs`: model id → directory, as the pipeline's options give them (resolved as the engine resolves them). */
  constructor(models: readonly ModelInfo[], dirs: Readonly<Record<string, { dir: string }>>) {
    this.models = new Map(models.map((model) => [model.id, model]));
    for (const model of models) {
      this.workerModels[model.id] = { dir: resolve(dirs[model.id].dir), ...(model.bosTokenId !== undefined ? { bosTokenId: model.bosTokenId } : {}) };
    }
  }

  async tokenize(modelId: string, text: string): Promise<Tokenization> {
    return this.call<Tokenization>({ op: "tokenize", modelId: this.model(modelId).id, text: checkText(text) });
  }

  async countTokens(modelId: string, text: string): Promise<number> {
    return this.call<number>({ op: "count", modelId: this.model(modelId).id, text: checkText(text) });
  }

  async detokenize(modelId: string, ids: number[]): Promise<string> {
    const model = this.model(modelId);
    if (!Array.isArray(ids)) throw errors.invalidTokens("The token ids must be an array of integers.");
    if (ids.length === 0) return "";
    return this.call<string>({ op: "detokenize", modelId, ids: checkVocabulary(model.id, model.vocabSize, ids) });
  }

  /** Fails calls in flight with SHUTTING_DOWN (and later ones too) and ends the thread. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.failAll(errors.shuttingDown("The model pipeline is closed."));
    if (worker) await worker.terminate();
  }

  private model(modelId: string): ModelInfo {
    const model = this.models.get(modelId);
    if (!model) throw errors.modelNotFound(modelId, [...this.models.keys()]);
    return model;
  }

  private call<T extends TokenizerResult>(call: TokenizerCall): Promise<T> {
    if (this.closed) return Promise.reject(errors.shuttingDown("The model pipeline is closed."));
    const worker = (this.worker ??= this.start());
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
      worker.ref();
      worker.postMessage({ ...call, id } satisfies TokenizerRequest);
    });
  }

  private start(): Worker {
    const worker = new Worker(new URL("./tokenizer-worker.js", import.meta.url), {
      workerData: { models: this.workerModels },
      name: "modelnode-tokenizer",
    });
    worker.unref();
    worker.on("message", (reply: TokenizerReply) => {
      const pending = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (!pending) return;
      if ("error" in reply) pending.reject(deserializeError(reply.error));
      else pending.resolve(reply.result);
    });
    worker.on("error", (error) => this.died(worker, error));
    worker.on("exit", (code) => this.died(worker, new Error(`the tokenizer thread exited (code ${code})`)));
    return worker;
  }

  private died(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.failAll(new Error(`tokenizer thread failed: ${error.message}`));
  }

  private failAll(error: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const call of pending) call.reject(error);
  }
}

function checkText(text: string): string {
  if (typeof text !== "string") throw errors.invalidRequest("The text to tokenize must be a string.", "text");
  return text;
}
