/**
 * FakePipeline: a deterministic ModelPipeline for plugin tests, so that nobody writes their own.
 *
 * - Tokenizer: one token per character; its id is the character's code modulo the vocabulary
 *   ("Hi" → [72, 105] with the default vocabulary of 128).
 * - Chat: `messages` rendered as "<role>: <content>\n" lines, then "assistant: ".
 * - Generation: the words "w0 ", "w1 ", … one per token; honours maxTokens, stop and the abort
 *   signal; CONTEXT_LENGTH_EXCEEDED when prompt + maxTokens exceed the model's context. With
 *   `logprobs`, token i ("wi ", id i) has log probability −(i + 1) / 10, and its alternatives
 *   are itself then "alt1", "alt2", … (ids 1001, 1002, …) at −1, −2, ….
 * - Steps: sessions that check step order and context; the next token is (last id + 1) % vocab.
 * - Records what it was asked (`requests`, `steps`, `closed`) and counts what is in flight.
 */
import {
  errors,
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
  type TokenLogprob,
} from "@modelnode/core/pipeline";

interface FakeSession {
  modelId: string;
  tokens: number[];
  step: number;
}

export const FAKE_MODELS: ModelInfo[] = [
  { id: "fake", contextLength: 64, vocabSize: 128, description: "a fake", eosTokenIds: [127], architecture: "fake" },
  { id: "other", contextLength: 32, vocabSize: 50, eosTokenIds: [49], architecture: "fake" },
];

export class FakePipeline implements ModelPipeline {
  readonly requests: GenerateRequest[] = [];
  readonly steps: StepRequest[] = [];
  readonly sessions = new Map<string, FakeSession>();
  /** Session ids passed to closeSession, in order. */
  readonly closed: string[] = [];
  generationsInFlight = 0;
  /** Each generated token waits for this (tests make generation as slow as they need). */
  tokenDelay: () => Promise<void> = () => new Promise((resolve) => setImmediate(resolve));
  /** Extra figures merged into stats(); `failStats` makes stats() throw. */
  figures: Partial<PipelineStats> = {};
  failStats = false;
  /** Resolves once a generation has returned (finished, cancelled, or abandoned by its consumer). */
  ended: Promise<void>;
  private markEnded!: () => void;

  /** `models`: ModelInfo objects, or just ids (context 64, vocabulary 128). */
  constructor(models: (ModelInfo | string)[] = FAKE_MODELS) {
    this.models = models.map((m) => (typeof m === "string" ? { id: m, contextLength: 64, vocabSize: 128 } : m));
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
  }
  readonly models: ModelInfo[];

  listModels(): ModelInfo[] {
    return this.models;
  }
  hasModel(modelId: string): boolean {
    return this.models.some((m) => m.id === modelId);
  }

  async tokenize(modelId: string, text: string): Promise<Tokenization> {
    const model = this.model(modelId);
    const tokens = [...text];
    return { ids: tokens.map((c) => c.codePointAt(0)! % model.vocabSize), tokens };
  }
  async countTokens(modelId: string, text: string): Promise<number> {
    this.model(modelId);
    return [...text].length;
  }
  /** The chat as the fake renders it (`promptOf`), counted as countTokens counts. */
  async countChatTokens(modelId: string, messages: readonly ChatMessage[]): Promise<number> {
    return this.countTokens(modelId, FakePipeline.promptOf({ messages: [...messages] }));
  }
  /** The ids countChatTokens counts: the rendered chat, tokenized. */
  async tokenizeChat(modelId: string, messages: readonly ChatMessage[]): Promise<number[]> {
    return (await this.tokenize(modelId, FakePipeline.promptOf({ messages: [...messages] }))).ids;
  }
  async detokenize(modelId: string, ids: number[]): Promise<string> {
    const model = this.model(modelId);
    const bad = ids.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= model.vocabSize);
    if (bad >= 0) throw errors.invalidTokens(`Token id at index ${bad} is outside the vocabulary.`, { index: bad });
    return ids.map((id) => `<${id}>`).join("");
  }

  async generate(request: GenerateRequest): Promise<GenerationResult> {
    let last: GenerationResult | undefined;
    for await (const event of this.stream(request)) if (event.kind === "done") last = event.result;
    return last!;
  }

  async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    this.requests.push(request);
    const model = this.model(request.modelId);
    const promptTokens = await this.countTokens(model.id, FakePipeline.promptOf(request));
    const maxTokens = request.maxTokens ?? 16;
    if (promptTokens + 1 > model.contextLength) {
      throw errors.contextLengthExceeded(`The prompt is ${promptTokens} tokens; the model holds ${model.contextLength}.`);
    }
    this.generationsInFlight++;
    try {
      let text = "";
      let count = 0;
      let finishReason: GenerationResult["finishReason"] = "length";
      let stopSequence: string | undefined;
      const logprobs: TokenLogprob[] = [];
      while (count < maxTokens) {
        await this.tokenDelay();
        if (request.signal?.aborted) {
          finishReason = "cancelled";
          break;
        }
        const piece = `w${count} `;
        count++;
        const stop = request.stop?.find((s) => (text + piece).includes(s));
        if (stop) {
          finishReason = "stop";
          stopSequence = stop;
          text = (text + piece).slice(0, (text + piece).indexOf(stop));
          break;
        }
        text += piece;
        if (request.logprobs === undefined) yield { kind: "text", text: piece };
        else {
          const entry = FakePipeline.logprob(count - 1, piece, request.logprobs);
          logprobs.push(entry);
          yield { kind: "text", text: piece, tokenIds: [count - 1], logprobs: [entry] };
        }
      }
      const result: GenerationResult = { text, finishReason, usage: { promptTokens, completionTokens: count } };
      if (stopSequence !== undefined) result.stopSequence = stopSequence;
      if (request.logprobs !== undefined) result.logprobs = logprobs;
      yield { kind: "done", result };
    } finally {
      this.generationsInFlight--;
      this.markEnded();
    }
  }

  /** Token `index`'s log probability entry (see the class comment), with `top` alternatives. */
  static logprob(index: number, token: string, top: number): TokenLogprob {
    const bytes = (text: string) => [...new TextEncoder().encode(text)];
    const entry: TokenLogprob = { id: index, token, bytes: bytes(token), logprob: -(index + 1) / 10 };
    if (top > 0) {
      entry.top = [{ id: index, token, bytes: bytes(token), logprob: entry.logprob }];
      for (let i = 1; i < top; i++) entry.top.push({ id: 1000 + i, token: `alt${i}`, bytes: bytes(`alt${i}`), logprob: -i });
    }
    return entry;
  }

  /**
   * The text a request continues: its prompt, or its chat rendered by the fake's template
   * ("<role>: <content>\n" per message, then "assistant: ").
   */
  static promptOf(request: Pick<GenerateRequest, "prompt" | "messages">): string {
    if ((request.prompt === undefined) === (request.messages === undefined)) {
      throw errors.invalidRequest("Give exactly one of prompt and messages.", "prompt");
    }
    if (request.prompt !== undefined) return request.prompt;
    return `${request.messages!.map((m) => `${m.role}: ${m.content}\n`).join("")}assistant: `;
  }

  async step(request: StepRequest): Promise<StepResult> {
    this.steps.push(request);
    const model = this.model(request.modelId);
    const ids = typeof request.inputIds === "string" ? (await this.tokenize(model.id, request.inputIds)).ids : request.inputIds;
    let session = this.sessions.get(request.sessionId);
    if (request.step === 0) {
      session = { modelId: model.id, tokens: [], step: 0 };
      this.sessions.set(request.sessionId, session);
    } else {
      if (!session) throw errors.sessionNotFound(request.sessionId);
      if (request.step !== session.step + 1) throw errors.stepOutOfOrder(request.sessionId, session.step + 1, request.step);
      session.step = request.step;
    }
    if (session.tokens.length + ids.length > model.contextLength) {
      throw errors.contextLengthExceeded(`The session would hold more than ${model.contextLength} tokens.`);
    }
    session.tokens.push(...ids);
    const nextTokenId = (ids[ids.length - 1] + 1) % model.vocabSize;
    return {
      sessionId: request.sessionId,
      step: request.step,
      nextTokenId,
      nextTokenText: `<${nextTokenId}>`,
      sequenceLength: session.tokens.length,
      inputIds: ids,
      isEos: nextTokenId === model.vocabSize - 1,
    };
  }

  closeSession(sessionId: string): boolean {
    this.closed.push(sessionId);
    return this.sessions.delete(sessionId);
  }
  stats(): PipelineStats {
    if (this.failStats) throw new Error("stats unavailable");
    return { activeSessions: this.sessions.size, generationsInFlight: this.generationsInFlight, cacheBytes: 0, queuedGenerations: 0, ...this.figures };
  }
  async close(): Promise<void> {
    this.sessions.clear();
  }

  private model(modelId: string): ModelInfo {
    const model = this.models.find((m) => m.id === modelId);
    if (!model) throw errors.modelNotFound(modelId, this.models.map((m) => m.id));
    return model;
  }
}
