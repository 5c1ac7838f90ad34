/** Builds the frames core sends: standard replies with their header, and error frames in both formats. */
import { randomUUID } from "node:crypto";
import type { ErrorBody } from "./errors.js";
import { PROTOCOL_VERSION } from "./header.js";

export interface ReplyHeader {
  message_id: string;
  message_type: string;
  protocol_version: string;
  timestamp: string;
  correlation_id: string | null;
}

export function replyHeader(messageType: string, correlationId: string | null): ReplyHeader {
  return {
    message_id: randomUUID(),
    message_type: messageType,
    protocol_version: PROTOCOL_VERSION,
    timestamp: new Date().toISOString(),
    correlation_id: correlationId,
  };
}

/** `{header, ...payload}`; a payload cannot override the header. */
export function standardReply(messageType: string, correlationId: string | null, payload: object): string {
  const header = replyHeader(messageType, correlationId);
  // A literal with the header first keeps the object in fast mode (JSON.stringify is then
  // much cheaper than after writing to a spread copy); the rare payload with its own
  // "header" key takes the slow path.
  if (!Object.hasOwn(payload, "header")) return JSON.stringify({ header, ...payload });
  const frame: Record<string, unknown> = { ...payload };
  delete frame.header;
  return JSON.stringify({ header, ...frame });
}

export function standardError(correlationId: string | null, error: ErrorBody): string {
  return JSON.stringify({ header: replyHeader("error", correlationId), ...error });
}

/** The legacy error shape: `{session_id, step, error: {code, message}}`. */
export function legacyError(message: Record<string, unknown> | undefined, error: ErrorBody): string {
  return JSON.stringify({
    session_id: echoable(message?.session_id),
    step: echoable(message?.step),
    error,
  });
}

/** Echo ids only when they are small scalars: never reflect large or nested input. */
function echoable(value: unknown): string | number | null {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.length <= 256) return value;
  return null;
}
