/**
 * Errors across a worker boundary: structured clone drops custom classes and fields, so a thread
 * sends an error as plain data (`serializeError`) and the main thread turns it back into the
 * classes callers check for (`deserializeError`).
 */
import { isCodedError, ProtocolError } from "@modelnode/core/pipeline";
import { ModelLoadError } from "../shared/model-files.js";

/** An Error as plain data. */
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

/**
 * An error from another thread (the engine's or the tokenizer's) as the classes callers check
 * for: a coded error becomes a `ProtocolError` with its code, message and details (so core sends
 * it to the client as it is); a `ModelLoadError` stays one; anything else is a plain Error.
 */
export function deserializeError(data: SerializedError): Error {
  let error: Error;
  if (data.coded === true && typeof data.code === "string") error = new ProtocolError(data.code, data.message, data.details);
  else if (data.name === "ModelLoadError" && data.modelId !== undefined && data.file !== undefined) {
    error = new ModelLoadError(data.modelId, data.file, "");
    error.message = data.message;
  } else {
    error = new Error(data.message);
    error.name = data.name;
  }
  if (data.stack) error.stack = data.stack;
  return error;
}
