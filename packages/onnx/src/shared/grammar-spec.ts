/**
 * A request's grammar (core's `GrammarSpec`) checked on the caller's thread and turned into what
 * the grammar thread compiles (`GrammarSource`), within the limits that keep a compile short:
 * its size in bytes, repetition counts (`maxLength`, `maxItems`, a regex's `{m,n}`, …) and the
 * number of alternatives (enum values, anyOf entries, choices). Errors are INVALID_GRAMMAR naming
 * the request's field ("grammar.schema", …). See docs/structured-output.md.
 */
import { errors, type GrammarSpec } from "@modelnode/core/pipeline";
import { checkRepetitions, lowerSchema, SchemaProblem } from "./json-schema-lowering.js";
import type { ToolsGrammarSource } from "./tool-grammar.js";

/** What the grammar thread compiles: every kind of GrammarSpec comes down to one of these. */
export type GrammarSource =
  /**
   * A lowered JSON schema (json-schema-lowering.ts): `ranges` replace placeholders in the EBNF
   * xgrammar writes for it; `strict`: no properties or items beyond those the schema names.
   */
  | { kind: "json"; schema: string; strict: boolean; ranges: [string, string][] }
  | { kind: "regex"; pattern: string }
  | { kind: "ebnf"; ebnf: string }
  /** Tool calls (tool-grammar.ts): a structural tag the grammar thread writes. */
  | ToolsGrammarSource;

export interface GrammarLimits {
  /** Largest grammar (the request's `grammar`, as JSON) in bytes. */
  maxGrammarBytes: number;
  /** Largest repetition count: maxLength, minLength, maxItems, minItems, max/minProperties, a regex or EBNF `{m,n}`. */
  maxGrammarRepetition: number;
  /** Most alternatives: enum values, anyOf entries, choices. */
  maxGrammarAlternatives: number;
}

/** The pipeline's field for a request's grammar; INVALID_GRAMMAR errors name it or one of its fields. */
export const GRAMMAR_FIELD = "grammar";

/** The grammar checked against the limits, as the grammar thread will compile it; INVALID_GRAMMAR otherwise. */
export function grammarSource(spec: unknown, limits: GrammarLimits): GrammarSource {
  const field = GRAMMAR_FIELD;
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) throw errors.invalidGrammar("The grammar must be an object with a type.", field);
  const bytes = Buffer.byteLength(JSON.stringify(spec));
  if (bytes > limits.maxGrammarBytes) throw errors.grammarTooLarge(bytes, limits.maxGrammarBytes, field);
  const grammar = spec as GrammarSpec;
  const repetitions = (text: string, at: string) => {
    try {
      checkRepetitions(text, limits.maxGrammarRepetition, "");
    } catch (error) {
      throw errors.invalidGrammar((error as Error).message, at);
    }
  };
  switch (grammar.type) {
    case "json_schema": {
      const { schema, strict } = grammar;
      if (typeof schema !== "object" || schema === null || Array.isArray(schema)) throw errors.invalidGrammar("The JSON schema must be an object.", `${field}.schema`);
      if (strict !== undefined && typeof strict !== "boolean") throw errors.invalidGrammar("strict must be true or false.", `${field}.strict`);
      try {
        const lowered = lowerSchema(schema, { maxRepetition: limits.maxGrammarRepetition, maxAlternatives: limits.maxGrammarAlternatives });
        return { kind: "json", schema: JSON.stringify(lowered.schema), strict: strict !== false, ranges: lowered.ranges };
      } catch (error) {
        if (!(error instanceof SchemaProblem)) throw error;
        throw errors.invalidGrammar(`The JSON schema at ${error.path || "/"}: ${error.message}`, `${field}.schema`);
      }
    }
    case "json_object":
      return { kind: "json", schema: '{"type":"object"}', strict: false, ranges: [] };
    case "regex":
      if (typeof grammar.pattern !== "string" || grammar.pattern.length === 0) throw errors.invalidGrammar("The regex must be a non-empty string.", `${field}.pattern`);
      repetitions(grammar.pattern, `${field}.pattern`);
      return { kind: "regex", pattern: grammar.pattern };
    case "grammar":
      if (typeof grammar.grammar !== "string" || grammar.grammar.trim().length === 0) throw errors.invalidGrammar("The grammar must be a non-empty string.", `${field}.grammar`);
      repetitions(grammar.grammar, `${field}.grammar`);
      return { kind: "ebnf", ebnf: grammar.grammar };
    case "choice": {
      const { choices } = grammar;
      const max = limits.maxGrammarAlternatives;
      if (!Array.isArray(choices) || choices.length === 0 || choices.length > max || !choices.every((c) => typeof c === "string" && c.length > 0)) {
        throw errors.invalidGrammar(`The choices must be 1 to ${max} non-empty strings.`, `${field}.choices`);
      }
      // JSON's string escapes are valid EBNF string escapes.
      return { kind: "ebnf", ebnf: `root ::= ${choices.map((choice) => JSON.stringify(choice)).join(" | ")}` };
    }
    default:
      throw errors.invalidGrammar('The grammar type must be one of "json_schema", "json_object", "regex", "grammar", "choice".', `${field}.type`);
  }
}

/** One string per distinct grammar: the compiled-grammar cache's key (beside the model). */
export function grammarKey(source: GrammarSource): string {
  return JSON.stringify(source);
}
