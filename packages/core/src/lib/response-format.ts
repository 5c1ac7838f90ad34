/**
 * `response_format`: how a client asks for structured output, in OpenAI's shape (`text`,
 * `json_object`, `json_schema`) plus this node's extensions (`regex`, `grammar`, `choice`), and
 * the pipeline's `GenerateRequest.grammar` it becomes. The inference plugin's inference_request
 * and the OpenAI API take the same shape, so both name the same fields in their errors: an
 * INVALID_GRAMMAR from the pipeline names "grammar…", which `renameGrammarField` turns into the
 * field the client wrote. See docs/structured-output.md.
 */
import { z } from "zod";
import { ErrorCode, isCodedError, ProtocolError } from "./errors.js";
import type { GrammarSpec } from "./pipeline.js";

export const responseFormatSchema = z.discriminatedUnion(
  "type",
  [
    z.object({ type: z.literal("text") }),
    z.object({ type: z.literal("json_object") }),
    z.object({
      type: z.literal("json_schema"),
      json_schema: z.object({
        name: z.string().min(1).max(64),
        description: z.string().optional(),
        /** Absent: any JSON value. Checked by the pipeline (INVALID_GRAMMAR). */
        schema: z.record(z.string(), z.unknown()).optional(),
        /** Default true: no properties beyond those the schema names where it does not say. */
        strict: z.boolean().nullish(),
      }),
    }),
    z.object({ type: z.literal("regex"), pattern: z.string().min(1) }),
    z.object({ type: z.literal("grammar"), grammar: z.string().min(1) }),
    z.object({ type: z.literal("choice"), choices: z.array(z.string().min(1)).min(1) }),
  ],
  { error: 'expected {"type": …} with one of "text", "json_object", "json_schema", "regex", "grammar", "choice"' },
);

export type ResponseFormat = z.output<typeof responseFormatSchema>;

/** A request's grammar, and where the client wrote it (for errors). */
export interface RequestedGrammar {
  grammar: GrammarSpec;
  /** The client's name for one of the pipeline's grammar fields ("grammar", "grammar.schema", …). */
  field(pipelineField: string): string;
}

/** The grammar a `response_format` asks for (none for `text` or no format), written at `at` ("response_format"). */
export function grammarOfResponseFormat(format: ResponseFormat | null | undefined, at = "response_format"): RequestedGrammar | undefined {
  if (!format) return undefined;
  const inFormat = (names: Record<string, string>) => (field: string) => (names[field] ? `${at}.${names[field]}` : at);
  switch (format.type) {
    case "text":
      return undefined;
    case "json_object":
      return { grammar: { type: "json_object" }, field: inFormat({}) };
    case "json_schema": {
      const { schema, strict } = format.json_schema;
      const grammar: GrammarSpec = { type: "json_schema", schema: schema ?? {}, ...(typeof strict === "boolean" ? { strict } : {}) };
      return { grammar, field: inFormat({ "grammar.schema": "json_schema.schema", "grammar.strict": "json_schema.strict" }) };
    }
    case "regex":
      return { grammar: { type: "regex", pattern: format.pattern }, field: inFormat({ "grammar.pattern": "pattern" }) };
    case "grammar":
      return { grammar: { type: "grammar", grammar: format.grammar }, field: inFormat({ "grammar.grammar": "grammar" }) };
    case "choice":
      return { grammar: { type: "choice", choices: [...format.choices] }, field: inFormat({ "grammar.choices": "choices" }) };
  }
}

/** An INVALID_GRAMMAR error with its field in the client's names; any other error as it is. */
export function renameGrammarField(error: unknown, requested: RequestedGrammar | undefined): unknown {
  if (!requested || !isCodedError(error) || error.code !== ErrorCode.INVALID_GRAMMAR) return error;
  const details = (error as ProtocolError).details as Record<string, unknown> | undefined;
  if (typeof details?.field !== "string") return error;
  return new ProtocolError(error.code, error.message, { ...details, field: requested.field(details.field) });
}
