/**
 * The parts of the AsyncAPI document (asyncapi.ts) that no handler declares: the reply header,
 * the error code, and the standard and legacy error and reply messages, as fixed JSON Schema.
 */
import { ErrorCode } from "./errors.js";
import { PROTOCOL_VERSION } from "./header.js";
import type { JsonSchema } from "./zod-json-schema.js";

/** A header whose message_type is `type`. */
export function typeHeader(type: string): JsonSchema {
  return { type: "object", required: ["message_type"], properties: { message_type: { const: type } } };
}

export const REPLY_HEADER: JsonSchema = {
  type: "object",
  description: "The header of every standard reply the node sends.",
  required: ["message_id", "message_type", "protocol_version", "timestamp", "correlation_id"],
  properties: {
    message_id: { type: "string", description: "A new id (UUID) per reply frame." },
    message_type: { type: "string" },
    protocol_version: { type: "string", const: PROTOCOL_VERSION },
    timestamp: { type: "string", format: "date-time", description: "UTC, ISO-8601 with milliseconds." },
    correlation_id: {
      type: ["string", "null"],
      description: "The request's header.message_id; null when the frame could not be read that far.",
    },
  },
};

export const ERROR_CODE: JsonSchema = {
  type: "string",
  pattern: "^[A-Z][A-Z0-9_]*$",
  description: "UPPER_SNAKE. The node's catalogue is listed in examples; plugins may add codes.",
  examples: Object.values(ErrorCode),
};

export const ERROR_MESSAGE: JsonSchema = {
  name: "error",
  title: "error",
  summary: "The node refuses a message: a standard error frame (code and message beside the header).",
  contentType: "application/json",
  correlationId: { description: "The request's header.message_id, or null.", location: "$message.payload#/header/correlation_id" },
  payload: {
    type: "object",
    required: ["header", "code", "message"],
    properties: {
      header: { allOf: [{ $ref: "#/components/schemas/ReplyHeader" }, typeHeader("error")] },
      code: { $ref: "#/components/schemas/ErrorCode" },
      message: { type: "string", description: "For humans." },
      details: { description: "Where useful: e.g. VALIDATION_FAILED's issues ({path, code, message}, at most 10)." },
    },
  },
};

export const LEGACY_REPLY_MESSAGE: JsonSchema = {
  name: "legacy_reply",
  title: "Legacy reply",
  summary: "The reply to a legacy step: echoes session_id and step; its other fields are the legacy handler's.",
  contentType: "application/json",
  correlationId: { description: "Echoed from the request.", location: "$message.payload#/session_id" },
  payload: {
    type: "object",
    properties: {
      session_id: { type: "string" },
      step: { type: "integer" },
      output_tensors: { type: "object" },
    },
  },
};

export const LEGACY_ERROR_MESSAGE: JsonSchema = {
  name: "legacy_error",
  title: "Legacy error",
  summary: "The node refuses a legacy message, in the legacy shape.",
  contentType: "application/json",
  correlationId: { description: "Echoed from the request when it was a short string or a number.", location: "$message.payload#/session_id" },
  payload: {
    type: "object",
    required: ["session_id", "step", "error"],
    properties: {
      session_id: { type: ["string", "number", "null"], description: "The request's, when it was a string of ≤ 256 characters or a number; else null." },
      step: { type: ["string", "number", "null"], description: "The request's, under the same rule." },
      error: {
        type: "object",
        required: ["code", "message"],
        properties: {
          code: { $ref: "#/components/schemas/ErrorCode" },
          message: { type: "string" },
          details: {},
        },
      },
    },
  },
};
