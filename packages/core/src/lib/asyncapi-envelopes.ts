/**
 * The parts of the AsyncAPI document (asyncapi.ts) that no handler declares: the reply header,
 * the error code, and the standard and legacy error messages, from core's zod schemas of them
 * (envelope.ts, the same ones @modelnode/testing's replyChecker holds sent frames to); and the
 * outline of a legacy reply for a legacy handler that declares no replySchema.
 */
import { errorBodySchema, errorCodeSchema, legacyErrorSchema, replyHeaderSchema } from "./envelope.js";
import { zodToJsonSchema, type JsonSchema } from "./zod-json-schema.js";

/** A header whose message_type is `type`. */
export function typeHeader(type: string): JsonSchema {
  return { type: "object", required: ["message_type"], properties: { message_type: { const: type } } };
}

const ERROR_CODE_REF = { $ref: "#/components/schemas/ErrorCode" };

export const REPLY_HEADER: JsonSchema = {
  description: "The header of every standard reply the node sends.",
  ...zodToJsonSchema(replyHeaderSchema, "ReplyHeader", {}, "the reply header"),
};

export const ERROR_CODE: JsonSchema = zodToJsonSchema(errorCodeSchema, "ErrorCode", {}, "the error code");

/** `{code, message, details?}` with `code` referring to ErrorCode. */
function errorBody(): JsonSchema {
  const body = zodToJsonSchema(errorBodySchema, "ErrorBody", {}, "the error body");
  return { ...body, properties: { ...(body.properties as Record<string, JsonSchema>), code: ERROR_CODE_REF } };
}

const ERROR_BODY = errorBody();

export const ERROR_MESSAGE: JsonSchema = {
  name: "error",
  title: "error",
  summary: "The node refuses a message: a standard error frame (code and message beside the header).",
  contentType: "application/json",
  correlationId: { description: "The request's header.message_id, or null.", location: "$message.payload#/header/correlation_id" },
  payload: {
    ...ERROR_BODY,
    required: ["header", ...(ERROR_BODY.required as string[])],
    properties: {
      header: { allOf: [{ $ref: "#/components/schemas/ReplyHeader" }, typeHeader("error")] },
      ...(ERROR_BODY.properties as Record<string, JsonSchema>),
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

function legacyErrorPayload(): JsonSchema {
  const payload = zodToJsonSchema(legacyErrorSchema, "LegacyError", {}, "the legacy error");
  return { ...payload, properties: { ...(payload.properties as Record<string, JsonSchema>), error: ERROR_BODY } };
}

export const LEGACY_ERROR_MESSAGE: JsonSchema = {
  name: "legacy_error",
  title: "Legacy error",
  summary: "The node refuses a legacy message, in the legacy shape.",
  contentType: "application/json",
  correlationId: { description: "Echoed from the request when it was a short string or a number.", location: "$message.payload#/session_id" },
  payload: legacyErrorPayload(),
};
