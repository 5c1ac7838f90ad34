/**
 * Typed errors. Every refusal of the node (a standard `error` frame, or a legacy reply with an
 * `error` object) becomes a `ModelNodeError` carrying the node's `code`, `message` and
 * `details`; the client adds three codes of its own, each with its subclass:
 * `CONNECTION_LOST` (`ConnectionLostError`), `TIMEOUT` (`TimeoutError`) and
 * `AUTHENTICATION_FAILED` (`AuthenticationError`).
 */
import type { KnownErrorCode } from "@modelnode/core";
import type { FieldIssue } from "@modelnode/core/protocol";

/** Codes the client itself raises (the node never sends them). */
export type ClientErrorCode = "CONNECTION_LOST" | "TIMEOUT" | "AUTHENTICATION_FAILED";

/** Every code documented in docs/protocol.md, plus the client's own. Plugins may add more (UPPER_SNAKE). */
export type ErrorCode = KnownErrorCode | ClientErrorCode;

/** `details` of the codes that carry some (docs/protocol.md, "Errors"); `undefined` where none. */
export interface ErrorDetailsByCode {
  VALIDATION_FAILED: { issues: FieldIssue[]; truncated?: number };
  UNKNOWN_MESSAGE_TYPE: { supported: string[] };
  UNSUPPORTED_PROTOCOL_VERSION: { supported: string[] };
  PAYLOAD_TOO_LARGE: { limit_bytes: number };
  RATE_LIMITED: { retry_after_ms?: number } | undefined;
  TOO_MANY_REQUESTS_IN_FLIGHT: { limit: number };
  MODEL_NOT_FOUND: { model_id: string; available: string[] };
  INVALID_REQUEST: { field?: string } | undefined;
  INVALID_TOKENS: Record<string, unknown> | undefined;
  /** `field`: where the grammar is (e.g. "response_format.json_schema.schema"); a limit when one was passed. */
  INVALID_GRAMMAR: { field: string; limit_bytes?: number; limit_ms?: number };
  CONTEXT_LENGTH_EXCEEDED: { context_length: number; tokens: number };
  BUSY: { running?: number; waiting?: number; max_cache_bytes?: number; needed_bytes?: number } | undefined;
  REQUEST_NOT_FOUND: { message_id: string };
  SESSION_NOT_FOUND: { session_id: string };
  SESSION_BUSY: { session_id: string; running_step: number };
  STEP_OUT_OF_ORDER: { session_id: string; expected_step: number; step: number };
  TOO_MANY_SESSIONS: { max_sessions?: number; max_cache_bytes?: number };
  CONNECTION_LOST: ConnectionLostDetails;
  TIMEOUT: { timeout_ms: number; operation: string };
  AUTHENTICATION_FAILED: { attempts_remaining?: number } | undefined;
}

export interface ConnectionLostDetails {
  /** Why: the connection dropped, the heartbeat went unanswered, the client was closed, or it gave up reconnecting. */
  reason: "dropped" | "heartbeat_timeout" | "closed" | "gave_up" | "policy";
  /** The WebSocket close code, when the connection closed with one (1006: no close frame). */
  close_code?: number;
}

/** Where a node error came from: the request's message_id (standard) or session and step (legacy). */
export interface ErrorSource {
  correlationId?: string | null;
  sessionId?: string | null;
  step?: number | null;
}

export class ModelNodeError extends Error {
  /** UPPER_SNAKE and stable: program against it (`message` is for people). */
  readonly code: ErrorCode | (string & {});
  readonly details: unknown;
  /** The `correlation_id` of the standard error frame (the request's message_id), when there was one. */
  readonly correlationId?: string | null;
  /** The legacy error's `session_id` and `step`, for a legacy step. */
  readonly sessionId?: string | null;
  readonly step?: number | null;

  constructor(code: ErrorCode | (string & {}), message: string, details?: unknown, source: ErrorSource = {}) {
    super(message);
    this.name = "ModelNodeError";
    this.code = code;
    this.details = details;
    if (source.correlationId !== undefined) this.correlationId = source.correlationId;
    if (source.sessionId !== undefined) this.sessionId = source.sessionId;
    if (source.step !== undefined) this.step = source.step;
  }

  /** Narrows `code` and `details`: `if (err.is("MODEL_NOT_FOUND")) err.details.available`. */
  is<C extends keyof ErrorDetailsByCode>(code: C): this is ModelNodeError & { code: C; details: ErrorDetailsByCode[C] };
  is(code: string): boolean;
  is(code: string): boolean {
    return this.code === code;
  }
}

/** The connection carrying the request dropped (or the client closed) before its final reply. Requests are never replayed. */
export class ConnectionLostError extends ModelNodeError {
  declare readonly details: ConnectionLostDetails;
  constructor(message: string, details: ConnectionLostDetails) {
    super("CONNECTION_LOST", message, details);
    this.name = "ConnectionLostError";
  }
}

/** No reply (or no open connection) within the time allowed. */
export class TimeoutError extends ModelNodeError {
  declare readonly details: { timeout_ms: number; operation: string };
  constructor(operation: string, timeoutMs: number) {
    super("TIMEOUT", `${operation} timed out after ${timeoutMs} ms.`, { timeout_ms: timeoutMs, operation });
    this.name = "TimeoutError";
  }
}

/** The node answered `authentication` with `authenticated: false` (a wrong key). */
export class AuthenticationError extends ModelNodeError {
  constructor(message: string, attemptsRemaining?: number) {
    super("AUTHENTICATION_FAILED", message, attemptsRemaining === undefined ? undefined : { attempts_remaining: attemptsRemaining });
    this.name = "AuthenticationError";
  }
}

/** A standard error frame as a ModelNodeError. */
export function fromErrorFrame(frame: { header?: { correlation_id?: string | null }; code?: unknown; message?: unknown; details?: unknown }): ModelNodeError {
  return new ModelNodeError(
    typeof frame.code === "string" ? frame.code : "INTERNAL_ERROR",
    typeof frame.message === "string" ? frame.message : "The node refused the request.",
    frame.details,
    { correlationId: frame.header?.correlation_id ?? null },
  );
}

/** A legacy reply's `error` object as a ModelNodeError. */
export function fromLegacyError(reply: { session_id?: unknown; step?: unknown; error: { code?: unknown; message?: unknown; details?: unknown } }): ModelNodeError {
  const { error } = reply;
  return new ModelNodeError(
    typeof error.code === "string" ? error.code : "INTERNAL_ERROR",
    typeof error.message === "string" ? error.message : "The node refused the step.",
    error.details,
    {
      sessionId: typeof reply.session_id === "string" ? reply.session_id : null,
      step: typeof reply.step === "number" ? reply.step : null,
    },
  );
}
