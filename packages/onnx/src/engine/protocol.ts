/**
 * Messages between the pipeline (main thread) and the engine (worker thread). Requests carry a
 * numeric id chosen by the pipeline; the engine answers with events in batched messages, each
 * with a fresh stats snapshot, so that a reply and the figures it changed arrive together.
 */
import type { SamplingDefaults } from "../loaded-model.js";
import { isCodedError, type ChatMessage, type ResumeFrom, type GenerationResult, type ModelInfo, type PipelineStats, type StepRequest, type StepResult } from "@modelnode/core/pipeline";
import type { ResolvedSampling } from "../request-settings.js";

export type ToEngine =
  /** `promptIds`: the prompt or chat, encoded on the tokenizer thread. */
  | { type: "generate"; id: number; modelId: string; promptIds: number[]; settings: ResolvedSampling; cancelled?: boolean; resume?: ResumeFrom }
  /** A step's text input arrives encoded (ids). */
  | { type: "step"; id: number; request: Omit<StepRequest, "signal" | "inputIds"> & { inputIds: number[] } }
  | { type: "cancel"; id: number }
  /** The caller reads a stream more slowly than it is produced: hold it (`resume` undoes it). */
  | { type: "pause"; id: number }
  | { type: "resume"; id: number }
  | { type: "closeSession"; sessionId: string }
  | { type: "close" };

/** What a generation continues: a prompt, or a chat rendered with the model's chat template. */
export type GenerationInput = { prompt: string } | { messages: ChatMessage[] };

export type EngineEvent =
  /** `tokenIds`: the ids generated since the previous text event of this generation. */
  | [kind: "text", id: number, text: string, tokenIds: number[]]
  | [kind: "done", id: number, result: GenerationResult]
  | [kind: "step", id: number, result: StepResult]
  | [kind: "error", id: number, error: SerializedError]
  /** A step session was dropped (closed, expired, evicted or replaced). */
  | [kind: "sessionGone", sessionId: string];

export type FromEngine =
  | { type: "ready"; models: ModelInfo[]; samplingDefaults: Record<string, SamplingDefaults> }
  | { type: "failed"; error: SerializedError }
  | { type: "events"; events: EngineEvent[]; stats: PipelineStats }
  | { type: "log"; level: "debug" | "info" | "warn" | "error"; obj: object; msg?: string }
  | { type: "closed" };

/** An Error as plain data (structured clone drops custom classes and fields). */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** A coded error (core's `isCodedError`: a ProtocolError, PipelineError or one from another copy of core). */
  coded?: boolean;
  code?: string;
  details?: unknown;
  /** ModelLoadError */
  modelId?: string;
  file?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const { name, message, stack } = error;
  const fields = error as Error & Partial<Pick<SerializedError, "code" | "details" | "modelId" | "file">>;
  const coded = isCodedError(error);
  return { name, message, stack, coded, code: fields.code, details: fields.details, modelId: fields.modelId, file: fields.file };
}
