/**
 * What a generation's output is constrained to (structured output): part of the pipeline contract,
 * re-exported by pipeline.ts.
 */

/** See `GenerateRequest.grammar` and docs/structured-output.md. */
export type GrammarSpec =
  /**
   * A JSON value valid against this JSON Schema (an object, as parsed). `strict` (default true):
   * no properties or items beyond those the schema names, where it does not say; false: JSON
   * Schema's own default (more are allowed).
   */
  | { type: "json_schema"; schema: Record<string, unknown>; strict?: boolean }
  /** Any JSON object. */
  | { type: "json_object" }
  /** Text matching this regular expression, whole (no lookaround, no backreferences). */
  | { type: "regex"; pattern: string }
  /** Text of this EBNF grammar (xgrammar's dialect, GBNF-like: `root ::= ...`), from the rule `root`. */
  | { type: "grammar"; grammar: string }
  /** Exactly one of these strings. */
  | { type: "choice"; choices: string[] };
