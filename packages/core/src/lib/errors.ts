/**
 * The one catalogue of coded errors that go on the wire. Handlers, guards and pipelines throw
 * `ProtocolError`; core turns it into a standard or legacy error frame. Anything else thrown
 * becomes INTERNAL_ERROR (logged in full, never shown to the client).
 */
import { PipelineError } from "./pipeline.js";

export const ErrorCode = {
  INVALID_JSON: "INVALID_JSON",
  INVALID_MESSAGE: "INVALID_MESSAGE",
  UNRECOGNIZED_MESSAGE: "UNRECOGNIZED_MESSAGE",
  VALIDATION_FAILED: "VALIDATION_FAILED",
  UNKNOWN_MESSAGE_TYPE: "UNKNOWN_MESSAGE_TYPE",
  UNSUPPORTED_PROTOCOL_VERSION: "UNSUPPORTED_PROTOCOL_VERSION",
  UNAUTHENTICATED: "UNAUTHENTICATED",
  MODEL_NOT_FOUND: "MODEL_NOT_FOUND",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  RATE_LIMITED: "RATE_LIMITED",
  TOO_MANY_REQUESTS_IN_FLIGHT: "TOO_MANY_REQUESTS_IN_FLIGHT",
  SHUTTING_DOWN: "SHUTTING_DOWN",
  INTERNAL_ERROR: "INTERNAL_ERROR",
} as const;
export type KnownErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

export class ProtocolError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ProtocolError";
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

const UPPER_SNAKE = /^[A-Z][A-Z0-9_]*$/;

/**
 * What the client is told about a thrown value. Known errors keep their code and message;
 * anything else is INTERNAL_ERROR with a fixed message, so no stack or internal detail leaks.
 */
export function toErrorBody(error: unknown): { body: ErrorBody; internal: boolean } {
  if (error instanceof ProtocolError) return { body: error.toBody(), internal: false };
  if (error instanceof PipelineError && UPPER_SNAKE.test(error.code)) {
    const body: ErrorBody = { code: error.code, message: error.message };
    if (error.details !== undefined) body.details = error.details;
    return { body, internal: false };
  }
  return {
    body: { code: ErrorCode.INTERNAL_ERROR, message: "The node failed to process this message." },
    internal: true,
  };
}
