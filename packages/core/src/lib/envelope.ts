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
