/**
 * The frames core sends: standard replies with their header, and error frames in both formats;
 * with the zod schemas of the parts core owns (the reply header, the error frame, the legacy
 * error), which the AsyncAPI document describes (asyncapi-envelopes.ts) and
 * @modelnode/testing's replyChecker holds sent frames to. A handler declares the rest: its
 * replies' payloads (MessageHandlerOptions.replySchema / replies).
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { ErrorCode, type ErrorBody } from "./errors.js";
import { PROTOCOL_VERSION } from "./header.js";

/** The header of every standard reply frame. */
export const replyHeaderSchema = z.object({
  message_id: z.string().min(1).describe("A new id (UUID) per reply frame."),
  message_type: z.string().min(1),
  protocol_version: z.literal(PROTOCOL_VERSION),
  timestamp: z.iso.datetime().describe("UTC, ISO-8601 with milliseconds."),
  correlation_id: z.string().nullable().describe("The request's header.message_id; null when the frame could not be read that far."),
});

export type ReplyHeader = z.infer<typeof replyHeaderSchema>;

/** A wire error code: UPPER_SNAKE; core's catalogue (ErrorCode) or a plugin's own. */
export const errorCodeSchema = z
  .string()
  .regex(/^[A-Z][A-Z0-9_]*$/)
  .meta({ description: "UPPER_SNAKE. The node's catalogue is listed in examples; plugins may add codes.", examples: Object.values(ErrorCode) });

/** What an error says, in both formats: `{code, message, details?}` (errors.ts's ErrorBody). */
export const errorBodySchema = z.object({
  code: errorCodeSchema,
  message: z.string().describe("For humans."),
  details: z.unknown().optional().describe("Where useful: e.g. VALIDATION_FAILED's issues ({path, code, message}, at most 10)."),
});

/** A standard error frame: the reply header (message_type "error") beside the error body. */
export const errorFrameSchema = errorBodySchema.extend({ header: replyHeaderSchema.extend({ message_type: z.literal("error") }) });

/** An echoed id: the request's when it was a string of ≤ 256 characters or a finite number, else null. */
const echoedSchema = z.union([z.string().max(256), z.number(), z.null()]);

/** The legacy error: `{session_id, step, error: {code, message, details?}}`. */
export const legacyErrorSchema = z.object({
  session_id: echoedSchema.describe("The request's, when it was a string of ≤ 256 characters or a number; else null."),
  step: echoedSchema.describe("The request's, under the same rule."),
  error: errorBodySchema,
});

export function replyHeader(messageType: string, correlationId: string | null): ReplyHeader {
  return {
    message_id: randomUUID(),
    message_type: messageType,
    protocol_version: PROTOCOL_VERSION,
    timestamp: isoNow(),
    correlation_id: correlationId,
  };
}

/**
 * `{header, ...payload}` as JSON; a payload cannot override the header.
 *
 * Written as text around the payload's own JSON rather than stringified from a merged copy:
 * the copy (`{header, ...payload}`) was a third of the reply's cost, and a header whose parts
 * need no escaping (a UUID, an ISO timestamp) needs no serialiser. Only for a plain object
 * without a `header` key or a `toJSON` (what handlers return); anything else takes the copy,
 * which gives the same text.
 */
export function standardReply(messageType: string, correlationId: string | null, payload: object): string {
  if (Object.getPrototypeOf(payload) === Object.prototype && !Object.hasOwn(payload, "header") && !Object.hasOwn(payload, "toJSON")) {
    const body = JSON.stringify(payload);
    // body is "{}" or "{...}": the header goes in front of its fields.
    return body.length === 2 ? `{"header":${headerJson(messageType, correlationId)}}` : `{"header":${headerJson(messageType, correlationId)},${body.slice(1)}`;
  }
  const header = replyHeader(messageType, correlationId);
  const frame: Record<string, unknown> = { ...payload };
  delete frame.header;
  return JSON.stringify({ header, ...frame });
}

let isoAt = Number.NaN;
let iso = "";

/**
 * `new Date().toISOString()`, formatted once per millisecond: formatting costs several times
 * what reading the clock does (about 0.4 µs, a twentieth of a heartbeat's dispatch), and replies
 * sent in the same millisecond carry the same text anyway.
 */
function isoNow(): string {
  const now = Date.now();
  if (now !== isoAt) {
    iso = new Date(now).toISOString();
    isoAt = now;
  }
  return iso;
}

/** JSON.stringify(replyHeader(...)), the same text, without the object. */
function headerJson(messageType: string, correlationId: string | null): string {
  return (
    `{"message_id":"${randomUUID()}","message_type":${JSON.stringify(messageType)},"protocol_version":"${PROTOCOL_VERSION}",` +
    `"timestamp":"${isoNow()}","correlation_id":${correlationId === null ? "null" : JSON.stringify(correlationId)}}`
  );
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
