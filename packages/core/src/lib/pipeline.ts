/**
 * The model-pipeline contract. Core defines it so that plugins (legacy, inference, heartbeat)
 * can call a model without importing any runtime package; an application binds an
 * implementation (e.g. `@modelnode/onnx`) to the `PIPELINE` token at startup.
 */
import type { InjectionToken } from "tsyringe";

export type FinishReason = "stop" | "length" | "cancelled";

export interface ModelInfo {
  /** The id clients send as `model_id`. */
  id: string;
  /** Largest number of tokens (prompt + generated) the model can hold. */
  contextLength: number;
  vocabSize: number;
  /** Free-form facts worth showing to clients (architecture, layers, …). */
  description?: string;
}

export interface SamplingOptions {
  /** Upper bound on generated tokens; the pipeline clamps it to its configured ceiling. */
  maxTokens?: number;
  /** 0 means greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Makes sampling reproducible: the same seed, prompt and options give the same text. */
  seed?: number;
  /** Generation ends (finish_reason "stop") when the text produced contains one of these; the stop text is not returned. */
  stop?: string[];
}

export interface GenerateRequest extends SamplingOptions {
  modelId: string;
  prompt: string;
  /** Aborting stops generation within one decode step; the result then has finishReason "cancelled". */
  signal?: AbortSignal;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export interface GenerationResult {
  text: string;
  finishReason: FinishReason;
  usage: Usage;
}

/** What `stream()` yields: pieces of text as they are produced, then exactly one `done`. */
export type GenerationEvent =
  | { kind: "text"; text: string }
  | { kind: "done"; result: GenerationResult };

/** One step of the legacy protocol (see PROTOCOL.md, "Legacy format"). */
export interface StepRequest {
  /** Session key; the caller decides its scope. */
  sessionId: string;
  modelId: string;
  /** 0 starts or restarts the session with the whole prompt; n > 0 continues it. */
  step: number;
  /** Token ids, or text to tokenize. */
  inputIds: number[] | string;
  /** Optional mask for `inputIds` (1 = attend); when absent, all ones. */
  attentionMask?: number[];
  signal?: AbortSignal;
}

export interface StepResult {
  sessionId: string;
  step: number;
  /** Greedy next token after the input of this step. */
  nextTokenId: number;
  nextTokenText: string;
  /** Tokens the session holds after this step (prompt + all steps' inputs). */
  sequenceLength: number;
  /** The ids the step consumed (after tokenisation when the input was text). */
  inputIds: number[];
  /** Whether the next token is the model's end-of-sequence token. */
  isEos: boolean;
}

export interface PipelineStats {
  activeSessions: number;
  generationsInFlight: number;
  /** Bytes held by cached key/value state across sessions. */
  cacheBytes: number;
  /** More figures; by convention `queued` counts generations waiting for a free slot. */
  [key: string]: number;
}

export interface ModelPipeline {
  listModels(): ModelInfo[];
  hasModel(modelId: string): boolean;
  generate(request: GenerateRequest): Promise<GenerationResult>;
  stream(request: GenerateRequest): AsyncIterable<GenerationEvent>;
  /** Runs one legacy step; errors are `PipelineError`s with codes such as SESSION_NOT_FOUND. */
  step(request: StepRequest): Promise<StepResult>;
  /** Frees a step session's cache; false when there was none. */
  closeSession(sessionId: string): boolean;
  stats(): PipelineStats;
  /** Frees every model and session. */
  close(): Promise<void>;
}

/**
 * Errors a pipeline throws for conditions a client caused. `code` is an UPPER_SNAKE code that
 * core sends on the wire (e.g. MODEL_NOT_FOUND, SESSION_NOT_FOUND, STEP_OUT_OF_ORDER,
 * CONTEXT_LENGTH_EXCEEDED, TOO_MANY_SESSIONS, INVALID_TOKENS, BUSY); any other thrown error is
 * an internal error.
 */
export class PipelineError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "PipelineError";
  }
}

/** DI token an application binds its pipeline to. */
export const PIPELINE: InjectionToken<ModelPipeline> = Symbol.for("modelnode.pipeline");

/** MODEL_NOT_FOUND for a model id a client asked for, naming (a bounded list of) what is served. */
export function modelNotFound(modelId: string, pipeline: Pick<ModelPipeline, "listModels">): PipelineError {
  const shown = modelId.length > 64 ? `${modelId.slice(0, 64)}…` : modelId;
  return new PipelineError("MODEL_NOT_FOUND", `Model "${shown}" is not served by this node.`, {
    model_id: shown,
    available: pipeline
      .listModels()
      .map((m) => m.id)
      .slice(0, 100),
  });
}
