/**
 * Every text → token ids encoding of the pipeline, served by a thread of its own
 * (tokenizer/worker.ts): `tokenize`, `countTokens` and `detokenize`, and the ids of each
 * generation's prompt or chat (rendered with the model's chat template) and of legacy steps
 * given as text, before the request goes to the engine.
 *
 * Not the engine thread: there a call would wait behind model runs, and a full tokenizer in the
 * engine's heap makes each of its many garbage collections slower (see TextTokenizer.decodeOnly).
 * Not the caller's thread either: building a tokenizer takes GPT-2's vocabulary about 130 ms and
 * 40 MB of heap, and encoding a long text takes milliseconds, which on the node's thread would be
 * time its sockets go unanswered. So the calls never touch a session, a generation slot or the
 * key/value cache, and never hold up the event loop.
 *
 * The thread is started with the pipeline and loads every model's tokenizer at once (`warm`),
 * from the same files with the same code as the engine (see shared/text-tokenizer.ts). It keeps
 * the process alive only while calls are in flight; if it dies, its calls fail and the next call
 * starts a new one.
 */
import { resolve } from "node:path";
import { Worker } from "node:worker_threads";
import { errors, type ModelInfo, type Tokenization } from "@modelnode/core/pipeline";
import { deserializeError } from "../messages/errors.js";
import type {
  GenerationInput,
  TokenizerCall,
  TokenizerModel,
  TokenizerOptions,
  TokenizerReply,
  TokenizerRequest,
  TokenizerResult,
} from "../messages/tokenizer-protocol.js";
import { checkVocabulary } from "../shared/token-ids.js";

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

  /** A generation's prompt ids: its prompt, or its chat rendered with the model's chat template. */
  async inputIds(modelId: string, input: GenerationInput): Promise<number[]> {
    return this.call<number[]>({ op: "input", modelId: this.model(modelId).id, input });
  }

  /** A legacy step's text input as ids (INVALID_TOKENS when it encodes to none). */
  async encode(modelId: string, text: string, addSpecialTokens: boolean): Promise<number[]> {
    return this.call<number[]>({ op: "encode", modelId: this.model(modelId).id, text, addSpecialTokens });
  }

  /** Starts the thread and builds every model's tokenizer now, so that no request waits for that. */
  async warm(): Promise<void> {
    await Promise.all([...this.models.keys()].map((modelId) => this.call({ op: "load", modelId })));
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
    const worker = new Worker(new URL("../tokenizer/worker.js", import.meta.url), {
      workerData: { models: this.workerModels } satisfies TokenizerOptions,
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
