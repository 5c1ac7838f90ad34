/**
 * A small deterministic stand-in for a real pipeline: "tokenises" text by character codes,
 * predicts (last id + 1) % vocab, keeps step sessions and counts what it is asked to do.
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

interface FakeSession {
  modelId: string;
  tokens: number[];
  step: number;
}

export class FakePipeline implements ModelPipeline {
  readonly sessions = new Map<string, FakeSession>();
  readonly closed: string[] = [];
  readonly steps: StepRequest[] = [];

  constructor(readonly models: ModelInfo[] = [{ id: "fake", contextLength: 32, vocabSize: 128 }]) {}

  listModels(): ModelInfo[] {
    return this.models;
  }
  hasModel(modelId: string): boolean {
    return this.models.some((m) => m.id === modelId);
  }
  async generate(request: GenerateRequest): Promise<GenerationResult> {
    let last: GenerationResult | undefined;
    for await (const event of this.stream(request)) if (event.kind === "done") last = event.result;
    return last!;
  }
  async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    yield { kind: "done", result: { text: "", finishReason: "stop", usage: { promptTokens: 1, completionTokens: 0 } } };
  }

  async step(request: StepRequest): Promise<StepResult> {
    this.steps.push(request);
    const model = this.models.find((m) => m.id === request.modelId);
    if (!model) throw new PipelineError("MODEL_NOT_FOUND", `no model ${request.modelId}`);
    const ids = typeof request.inputIds === "string" ? [...request.inputIds].map((c) => c.charCodeAt(0) % model.vocabSize) : request.inputIds;
    let session = this.sessions.get(request.sessionId);
    if (request.step === 0) {
      session = { modelId: model.id, tokens: [], step: 0 };
      this.sessions.set(request.sessionId, session);
    } else {
      if (!session) throw new PipelineError("SESSION_NOT_FOUND", "no such session");
      if (request.step !== session.step + 1) {
        throw new PipelineError("STEP_OUT_OF_ORDER", `session "${request.sessionId}" expects step ${session.step + 1}`);
      }
      session.step = request.step;
    }
    if (session.tokens.length + ids.length > model.contextLength) {
      throw new PipelineError("CONTEXT_LENGTH_EXCEEDED", "context full");
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
    return { activeSessions: this.sessions.size, generationsInFlight: 0, cacheBytes: 0 };
  }
  async close(): Promise<void> {
    this.sessions.clear();
  }
}
