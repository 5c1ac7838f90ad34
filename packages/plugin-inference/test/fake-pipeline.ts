/**
 * A deterministic stand-in for a real pipeline: generation produces the words "w0 ", "w1 ", …
 * one per token, honours maxTokens, stop and the abort signal, and counts what is in flight.
 */
import {
  PipelineError,
  type GenerateRequest,
  type GenerationEvent,
  type GenerationResult,
  type ModelInfo,
  type ModelPipeline,
  type PipelineStats,
  type StepResult,
} from "@modelnode/core";

export class FakePipeline implements ModelPipeline {
  readonly requests: GenerateRequest[] = [];
  generationsInFlight = 0;
  /** Each token waits for this (tests make generation as slow as they need). */
  tokenDelay: () => Promise<void> = () => new Promise((resolve) => setImmediate(resolve));
  /** Set once a generation has returned (finished, cancelled, or abandoned by its consumer). */
  ended: Promise<void>;
  private markEnded!: () => void;

  constructor(
    readonly models: ModelInfo[] = [
      { id: "fake", contextLength: 64, vocabSize: 100, description: "a fake" },
      { id: "other", contextLength: 32, vocabSize: 50 },
    ],
  ) {
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
  }

  listModels(): ModelInfo[] {
    return this.models;
  }
  hasModel(modelId: string): boolean {
    return this.models.some((m) => m.id === modelId);
  }
  async generate(request: GenerateRequest): Promise<GenerationResult> {
    for await (const event of this.stream(request)) if (event.kind === "done") return event.result;
    throw new Error("unreachable");
  }

  async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    this.requests.push(request);
    if (!this.hasModel(request.modelId)) throw new PipelineError("MODEL_NOT_FOUND", "no such model");
    const promptTokens = request.prompt.split(/\s+/).filter(Boolean).length;
    if (promptTokens > 60) throw new PipelineError("CONTEXT_LENGTH_EXCEEDED", "prompt too long");
    this.generationsInFlight++;
    try {
      let text = "";
      let count = 0;
      let finishReason: GenerationResult["finishReason"] = "length";
      while (count < (request.maxTokens ?? 16)) {
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
          text = (text + piece).slice(0, (text + piece).indexOf(stop));
          break;
        }
        text += piece;
        yield { kind: "text", text: piece };
      }
      yield { kind: "done", result: { text, finishReason, usage: { promptTokens, completionTokens: count } } };
    } finally {
      this.generationsInFlight--;
      this.markEnded();
    }
  }

  async step(): Promise<StepResult> {
    throw new PipelineError("NOT_SUPPORTED", "no steps here");
  }
  closeSession(): boolean {
    return false;
  }
  stats(): PipelineStats {
    return { activeSessions: 0, generationsInFlight: this.generationsInFlight, cacheBytes: 0 };
  }
  async close(): Promise<void> {}
}
