/**
 * The fixed parts of the AsyncAPI document (the request and reply headers, the error and legacy
 * messages) and the conversion of handlers' zod schemas to JSON Schema; asyncapi.ts assembles
 * the document from them.
 */
import { z, type ZodType } from "zod";
import { ErrorCode } from "./errors.js";
import { headerSchema, PROTOCOL_VERSION } from "./header.js";

export type JsonSchema = Record<string, unknown>;

export function typeHeader(type: string): JsonSchema {
  return { type: "object", required: ["message_type"], properties: { message_type: { const: type } } };
}

export function requestHeaderSchema(): JsonSchema {
  const schema = convert(headerSchema, "RequestHeader", {}, "the header");
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  const notes: Record<string, string> = {
    message_id: "Unique per request; the reply's header.correlation_id.",
    message_type: "Selects the handler.",
    protocol_version: 'Any 2.x ("2", "2.0", "2.1", …); another major is UNSUPPORTED_PROTOCOL_VERSION.',
    timestamp: "ISO-8601 date or date-time, with or without a zone.",
    license_hash: "From authentication_response; authenticates this message when the node requires authentication.",
    correlation_id: "Ignored on requests.",
  };
  for (const [name, text] of Object.entries(notes)) {
    if (properties?.[name]) properties[name] = { description: text, ...properties[name] };
  }
  return { description: "The standard-protocol header of a request. Further fields are allowed and ignored.", ...schema };
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

/**
 * A zod schema as draft-07 JSON Schema (the dialect AsyncAPI schemas extend), for the input side
 * (what a client sends: fields with defaults are optional). Parts JSON Schema cannot express
 * (transforms, custom types, dates, …) become `{}` with a description; refinements are noted in
 * a description; a schema that cannot be converted at all becomes `{}` with a description. Its
 * definitions move to `schemas` under `<key>.<name>`, with their `$ref`s rewritten.
 */
export function convert(schema: ZodType, key: string, schemas: Record<string, JsonSchema>, what: string): JsonSchema {
  let json: JsonSchema;
  try {
    json = z.toJSONSchema(schema, {
      io: "input",
      target: "draft-07",
      cycles: "ref",
      reused: "inline",
      unrepresentable: ({ message }) => ({
        description: `Not expressible in JSON Schema (${message.replace(/ cannot be represented in JSON Schema$/, "")}); the node checks it.`,
      }),
      override: ({ zodSchema, jsonSchema }) => {
        if (hasRefinement(zodSchema)) {
          const note = "The node checks further rules that JSON Schema cannot express.";
          jsonSchema.description = typeof jsonSchema.description === "string" ? `${jsonSchema.description} ${note}` : note;
        }
      },
    }) as JsonSchema;
  } catch (error) {
    return {
      description: `The schema of ${what} could not be expressed in JSON Schema (${clipText((error as Error)?.message ?? String(error))}); the node validates it when it arrives.`,
    };
  }
  delete json.$schema;
  const defs = { ...((json.definitions as Record<string, JsonSchema> | undefined) ?? {}), ...((json.$defs as Record<string, JsonSchema> | undefined) ?? {}) };
  delete json.definitions;
  delete json.$defs;
  const names = new Map(Object.keys(defs).map((name) => [name, `${key}.${name.replace(/[^A-Za-z0-9_.-]/g, "_")}`]));
  const rewrite = (ref: string): string => {
    if (ref === "#") return `#/components/schemas/${key}`;
    const match = /^#\/(?:definitions|\$defs)\/([^/]+)$/.exec(ref);
    const target = match ? names.get(decodeURIComponent(match[1].replace(/~1/g, "/").replace(/~0/g, "~"))) : undefined;
    return target ? `#/components/schemas/${target}` : ref;
  };
  for (const [name, def] of Object.entries(defs)) schemas[names.get(name)!] = rewriteRefs(def, rewrite) as JsonSchema;
  return rewriteRefs(json, rewrite) as JsonSchema;
}

function rewriteRefs(value: unknown, rewrite: (ref: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, rewrite));
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, k === "$ref" && typeof v === "string" ? rewrite(v) : rewriteRefs(v, rewrite)]),
  );
}

/** `.refine()` / `.superRefine()` add checks of kind "custom", which JSON Schema output drops. */
function hasRefinement(schema: unknown): boolean {
  const checks = (schema as { _zod?: { def?: { checks?: { _zod?: { def?: { check?: string } } }[] } } })._zod?.def?.checks;
  return Array.isArray(checks) && checks.some((c) => c?._zod?.def?.check === "custom");
}

export function isZod(value: unknown): value is ZodType {
  return typeof (value as { safeParse?: unknown } | null)?.safeParse === "function";
}

function clipText(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
