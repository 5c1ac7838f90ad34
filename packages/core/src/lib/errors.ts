/**
 * The one catalogue of coded errors that go on the wire (as fastify's lib/errors.js is for
 * fastify). Handlers, guards and pipelines throw a `ProtocolError` (usually made by one of the
 * `errors.*` factories below); core turns it into a standard or legacy error frame. Anything
 * else thrown becomes INTERNAL_ERROR (logged in full, never shown to the client).
 *
 * Message style: one or two sentences, first letter capital, ending with a full stop, naming
 * what the client sent in the client's own terms (never an internal key).
 */

export const ErrorCode = {
  // framing and envelope (core)
  INVALID_JSON: "INVALID_JSON",
  INVALID_MESSAGE: "INVALID_MESSAGE",
  UNRECOGNIZED_MESSAGE: "UNRECOGNIZED_MESSAGE",
  VALIDATION_FAILED: "VALIDATION_FAILED",
  UNKNOWN_MESSAGE_TYPE: "UNKNOWN_MESSAGE_TYPE",
  UNSUPPORTED_PROTOCOL_VERSION: "UNSUPPORTED_PROTOCOL_VERSION",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  RATE_LIMITED: "RATE_LIMITED",
  TOO_MANY_REQUESTS_IN_FLIGHT: "TOO_MANY_REQUESTS_IN_FLIGHT",
  SHUTTING_DOWN: "SHUTTING_DOWN",
  INTERNAL_ERROR: "INTERNAL_ERROR",
  // plain HTTP on the node's port
  METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
  /** A path under an API's prefix that the API does not serve (a `/prefix/*` fallback route answers it). */
  NOT_FOUND: "NOT_FOUND",
  ORIGIN_NOT_ALLOWED: "ORIGIN_NOT_ALLOWED",
  /** A request on a loopback address whose Host header names another host (DNS rebinding guard). */
  HOST_NOT_ALLOWED: "HOST_NOT_ALLOWED",
  /** A request body that is not declared as JSON (content-type), e.g. a cross-site text/plain or form POST. */
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  // authentication (plugin-auth)
  UNAUTHENTICATED: "UNAUTHENTICATED",
  // the model pipeline
  MODEL_NOT_FOUND: "MODEL_NOT_FOUND",
  INVALID_REQUEST: "INVALID_REQUEST",
  INVALID_TOKENS: "INVALID_TOKENS",
  /** Structured output: a JSON schema, regex, grammar or choice the node cannot follow (details.field names it). */
  INVALID_GRAMMAR: "INVALID_GRAMMAR",
  CONTEXT_LENGTH_EXCEEDED: "CONTEXT_LENGTH_EXCEEDED",
  BUSY: "BUSY",
  CANCELLED: "CANCELLED",
  /** inference_cancel (or another cancel) names no request in flight on this connection. */
  REQUEST_NOT_FOUND: "REQUEST_NOT_FOUND",
  // legacy step sessions
  SESSION_NOT_FOUND: "SESSION_NOT_FOUND",
  SESSION_BUSY: "SESSION_BUSY",
  STEP_OUT_OF_ORDER: "STEP_OUT_OF_ORDER",
  TOO_MANY_SESSIONS: "TOO_MANY_SESSIONS",
} as const;
export type KnownErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

/**
 * Marks coded errors across module copies and worker threads (a structured-clone drops the
 * prototype; a second copy of core has its own class), so that `isCodedError` still knows them.
 */
const CODED = Symbol.for("modelnode.coded-error");
const UPPER_SNAKE = /^[A-Z][A-Z0-9_]*$/;

/** An error a client caused or may act on: its code and message go on the wire. */
export class ProtocolError extends Error {
  readonly [CODED] = true;

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

/** True for a ProtocolError from this or any other copy of core. */
export function isCodedError(error: unknown): error is ProtocolError {
  if (error instanceof ProtocolError) return true;
  const e = error as { [CODED]?: unknown; code?: unknown; message?: unknown } | null;
  return (
    typeof e === "object" && e !== null && e[CODED] === true && typeof e.code === "string" &&
    UPPER_SNAKE.test(e.code) && typeof e.message === "string"
  );
}

/**
 * What the client is told about a thrown value. Coded errors keep their code and message;
 * anything else is INTERNAL_ERROR with a fixed message, so no stack or internal detail leaks.
 */
export function toErrorBody(error: unknown): { body: ErrorBody; internal: boolean } {
  if (error instanceof ProtocolError) return { body: error.toBody(), internal: false };
  if (isCodedError(error)) {
    const { code, message, details } = error as { code: string; message: string; details?: unknown };
    return { body: details === undefined ? { code, message } : { code, message, details }, internal: false };
  }
  return {
    body: { code: ErrorCode.INTERNAL_ERROR, message: "The node failed to process this message." },
    internal: true,
  };
}

/** Bounded echo of client-supplied text in messages and details. */
export function clip(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Factories for every code in the catalogue: one wording per condition, wherever it is raised. */
export const errors = {
  // framing and envelope
  invalidUtf8Frame: () => new ProtocolError(ErrorCode.INVALID_JSON, "The frame is not valid UTF-8 text."),
  invalidJson: () => new ProtocolError(ErrorCode.INVALID_JSON, "The message is not valid JSON."),
  invalidJsonBody: () => new ProtocolError(ErrorCode.INVALID_JSON, "The request body is not valid JSON."),
  notAnObject: () => new ProtocolError(ErrorCode.INVALID_MESSAGE, "The message must be a JSON object."),
  unrecognizedMessage: () =>
    new ProtocolError(
      ErrorCode.UNRECOGNIZED_MESSAGE,
      'The message is neither standard protocol (a "header" object) nor legacy (a "session_id").',
    ),
  /** `fields`: the failing fields' paths, in order (the first three are named). */
  validationFailed: (fields: readonly string[], details: { issues: unknown[]; truncated?: number }) => {
    const summary = fields.length > 0 ? `: ${fields.slice(0, 3).join(", ")}${fields.length > 3 ? ", …" : ""}` : "";
    return new ProtocolError(ErrorCode.VALIDATION_FAILED, `The message failed validation${summary}.`, details);
  },
  /** `spoken`: the version this node speaks. */
  unsupportedProtocolVersion: (version: string, spoken: string) =>
    new ProtocolError(
      ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
      `Protocol version "${clip(version, 32)}" is not supported; this node speaks ${spoken} (any 2.x).`,
      { supported: [spoken] },
    ),
  payloadTooLarge: (limit: number) =>
    new ProtocolError(ErrorCode.PAYLOAD_TOO_LARGE, `The message is larger than ${limit} bytes.`, { limit_bytes: limit }),
  rateLimited: () => new ProtocolError(ErrorCode.RATE_LIMITED, "Too many messages; slow down."),
  tooManyInFlight: (limit: number, per: "connection" | "client address" = "connection") =>
    new ProtocolError(ErrorCode.TOO_MANY_REQUESTS_IN_FLIGHT, `At most ${limit} requests may be in flight per ${per}.`, {
      limit,
    }),
  unknownMessageType: (type: string, supported: string[]) =>
    new ProtocolError(ErrorCode.UNKNOWN_MESSAGE_TYPE, `Unknown message_type "${clip(type)}".`, { supported }),
  legacyNotServed: () =>
    new ProtocolError(ErrorCode.UNRECOGNIZED_MESSAGE, "This node does not serve the legacy message format."),
  unauthenticated: (message: string) => new ProtocolError(ErrorCode.UNAUTHENTICATED, message),
  // authentication (plugin-auth)
  authenticationRequired: (messageType: string) =>
    new ProtocolError(
      ErrorCode.UNAUTHENTICATED,
      `Message type "${messageType}" needs authentication: send an authentication message with your license_key, or put a license_hash in the header.`,
    ),
  legacyAuthenticationRequired: () =>
    new ProtocolError(
      ErrorCode.UNAUTHENTICATED,
      "Legacy messages need an authenticated connection: send a standard authentication message with your license_key first.",
    ),
  authorizationMissing: () =>
    new ProtocolError(ErrorCode.UNAUTHENTICATED, "This endpoint needs authentication: send your license key as `Authorization: Bearer <license key>`."),
  authorizationInvalid: () => new ProtocolError(ErrorCode.UNAUTHENTICATED, "The license key in the Authorization header is not valid."),
  licenseHashInvalid: () =>
    new ProtocolError(
      ErrorCode.UNAUTHENTICATED,
      "The license_hash in the header is not valid (it may be from another node or from before a restart); " +
        "send an authentication message with your license_key to get a new one.",
    ),
  authAttemptsExhausted: () => new ProtocolError(ErrorCode.UNAUTHENTICATED, "Too many failed authentication attempts on this connection."),
  authAddressRateLimited: (retryAfterMs: number) =>
    new ProtocolError(ErrorCode.RATE_LIMITED, "Too many failed authentication attempts from this address; try again later.", {
      retry_after_ms: retryAfterMs,
    }),
  shuttingDown: (message = "The node is shutting down.") => new ProtocolError(ErrorCode.SHUTTING_DOWN, message),
  modelNotFound: (modelId: string, available: string[]) =>
    new ProtocolError(ErrorCode.MODEL_NOT_FOUND, `Model "${clip(modelId)}" is not served by this node.`, {
      model_id: clip(modelId),
      available: available.slice(0, 100),
    }),
  /** A model the node would fetch on first request (a models directory's pull on demand) that cannot be had: `reason` says why. */
  modelNotFetched: (modelId: string, reason: string, details: Record<string, unknown> = {}) =>
    new ProtocolError(ErrorCode.MODEL_NOT_FOUND, `Model "${clip(modelId)}" is not in this node's models directory and could not be pulled: ${reason}`, {
      model_id: clip(modelId),
      ...details,
    }),
  invalidRequest: (message: string, field?: string) =>
    new ProtocolError(ErrorCode.INVALID_REQUEST, message, field === undefined ? undefined : { field }),
  invalidTokens: (message: string, details?: Record<string, unknown>) =>
    new ProtocolError(ErrorCode.INVALID_TOKENS, message, details),
  /**
   * Structured output (docs/structured-output.md). `field`: where the grammar is, in the
   * pipeline's names ("grammar", "grammar.schema", …), which each door renames to its own.
   */
  invalidGrammar: (message: string, field: string) => new ProtocolError(ErrorCode.INVALID_GRAMMAR, message, { field }),
  grammarTooLarge: (bytes: number, limit: number, field: string) =>
    new ProtocolError(ErrorCode.INVALID_GRAMMAR, `The grammar is ${bytes} bytes; this node takes at most ${limit}.`, { field, limit_bytes: limit }),
  grammarCompileTimeout: (limitMs: number, field: string) =>
    new ProtocolError(
      ErrorCode.INVALID_GRAMMAR,
      `The grammar took longer than ${limitMs} ms to prepare; make it smaller (fewer or shorter repetitions, maxLength, maxItems, enum values).`,
      { field, limit_ms: limitMs },
    ),
  contextLengthExceeded: (message: string, details?: Record<string, unknown>) =>
    new ProtocolError(ErrorCode.CONTEXT_LENGTH_EXCEEDED, message, details),
  busy: (message: string, details?: Record<string, unknown>) => new ProtocolError(ErrorCode.BUSY, message, details),
  cancelled: (message: string) => new ProtocolError(ErrorCode.CANCELLED, message),
  requestNotFound: (messageId: string) =>
    new ProtocolError(
      ErrorCode.REQUEST_NOT_FOUND,
      `No request "${clip(messageId)}" is in flight on this connection: it finished, was never sent here, or came from another connection.`,
      { message_id: clip(messageId) },
    ),
  sessionNotFound: (sessionId: string) =>
    new ProtocolError(
      ErrorCode.SESSION_NOT_FOUND,
      `No session "${clip(sessionId)}": it expired, was closed or never started with step 0.`,
      { session_id: clip(sessionId) },
    ),
  sessionBusy: (sessionId: string, runningStep: number) =>
    new ProtocolError(ErrorCode.SESSION_BUSY, `Session "${clip(sessionId)}" is still running step ${runningStep}.`, {
      session_id: clip(sessionId),
      running_step: runningStep,
    }),
  stepOutOfOrder: (sessionId: string, expected: number, got: number) =>
    new ProtocolError(ErrorCode.STEP_OUT_OF_ORDER, `Session "${clip(sessionId)}" expects step ${expected}, got ${got}.`, {
      session_id: clip(sessionId),
      expected_step: expected,
      step: got,
    }),
  tooManySessions: (message: string, details?: Record<string, unknown>) =>
    new ProtocolError(ErrorCode.TOO_MANY_SESSIONS, message, details),
  internal: () => new ProtocolError(ErrorCode.INTERNAL_ERROR, "The node failed to process this message."),
  methodNotAllowed: (method: string, path: string, allowed: string[]) =>
    new ProtocolError(ErrorCode.METHOD_NOT_ALLOWED, `${clip(method, 16)} is not served on ${clip(path)}; use ${allowed.join(" or ")}.`, { allowed }),
  notFound: (message: string) => new ProtocolError(ErrorCode.NOT_FOUND, message),
  originNotAllowed: () => new ProtocolError(ErrorCode.ORIGIN_NOT_ALLOWED, "Requests from this origin are not allowed."),
  hostNotAllowed: () =>
    new ProtocolError(ErrorCode.HOST_NOT_ALLOWED, "This node answers on a loopback address only to localhost, an IP address or a host listed in allowedHosts."),
  unsupportedMediaType: (contentType: string | undefined) =>
    new ProtocolError(
      ErrorCode.UNSUPPORTED_MEDIA_TYPE,
      contentType ? `The body must be sent as application/json, not ${clip(contentType, 64)}.` : "The body must be sent with content-type: application/json.",
    ),
} as const;

/** The HTTP status an error code is sent with on HTTP routes (WebSocket errors carry no status). */
export function httpStatusOf(code: string): number {
  return HTTP_STATUS[code] ?? 400;
}

const HTTP_STATUS: Record<string, number> = {
  INVALID_JSON: 400,
  VALIDATION_FAILED: 400,
  INVALID_REQUEST: 400,
  INVALID_TOKENS: 400,
  INVALID_GRAMMAR: 400,
  CONTEXT_LENGTH_EXCEEDED: 400,
  UNAUTHENTICATED: 401,
  ORIGIN_NOT_ALLOWED: 403,
  HOST_NOT_ALLOWED: 403,
  MODEL_NOT_FOUND: 404,
  REQUEST_NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  SESSION_BUSY: 409,
  STEP_OUT_OF_ORDER: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  TOO_MANY_REQUESTS_IN_FLIGHT: 429,
  TOO_MANY_SESSIONS: 429,
  CANCELLED: 499,
  INTERNAL_ERROR: 500,
  BUSY: 503,
  SHUTTING_DOWN: 503,
};
