/**
 * A request's JSON Schema checked and lowered to what xgrammar's web build (0.1.27) enforces
 * soundly, so that every output validates against the schema the client sent:
 *
 * - keywords it ignores or gets wrong (multipleOf, uniqueItems, oneOf, not, if/then/else,
 *   patternProperties, a pattern beside minLength/maxLength, most formats, …) are refused by name;
 * - bounds on numbers and integers (which it turns into unsound grammars) become placeholders,
 *   `{"const": "<placeholder>"}`, whose rules (number-ranges.ts) replace the placeholder's literal
 *   in the EBNF that xgrammar writes for the schema (on the grammar thread);
 * - sizes that make compiling slow (maxLength, maxItems, … past `maxRepetition`; enums, anyOf
 *   lists past `maxAlternatives`; nesting past MAX_DEPTH) are refused.
 * Annotations (title, description, default, examples, $schema, …) and `x-` keywords are ignored.
 */
import { boundedNumber, type NumberBounds } from "./number-ranges.js";

export interface SchemaLimits {
  maxRepetition: number;
  maxAlternatives: number;
}

/** A schema problem: what is wrong, in the client's terms, and where (a JSON pointer-ish path). */
export class SchemaProblem extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

export interface LoweredSchema {
  schema: Record<string, unknown>;
  /** [placeholder, EBNF expression]: the placeholder's JSON string literal is replaced by the expression. */
  ranges: [string, string][];
}

const MAX_DEPTH = 32;
const LARGEST = 2 ** 53;
const ANNOTATIONS = new Set(["title", "description", "default", "examples", "$schema", "$id", "$comment", "$anchor", "deprecated", "readOnly", "writeOnly", "nullable", "contentEncoding", "contentMediaType"]);
const TYPES = new Set(["string", "number", "integer", "boolean", "null", "array", "object"]);
const FORMATS = new Set(["date", "time", "date-time", "uuid", "ipv4", "ipv6"]);
const COUNTS = ["minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"];
const BOUNDS = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] as const;
/** Keywords this node refuses, with why (xgrammar 0.1.27 ignores them or enforces them wrongly). */
const UNSUPPORTED: Record<string, string> = {
  oneOf: "use anyOf",
  not: "",
  if: "",
  then: "",
  else: "",
  multipleOf: "",
  patternProperties: "",
  propertyNames: "",
  dependentRequired: "",
  dependentSchemas: "",
  dependencies: "",
  contains: "",
  minContains: "",
  maxContains: "",
  unevaluatedProperties: "",
  unevaluatedItems: "",
  additionalItems: "",
};

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

export function lowerSchema(schema: Record<string, unknown>, limits: SchemaLimits): LoweredSchema {
  const ranges: [string, string][] = [];
  const text = JSON.stringify(schema);
  let prefix = "modelnode-range-";
  while (text.includes(prefix)) prefix += "x";
  const lowerer = new Lowerer(limits, (ebnf) => {
    const placeholder = `${prefix}${ranges.length}`;
    ranges.push([placeholder, ebnf]);
    return placeholder;
  });
  return { schema: lowerer.node(schema, "", 0) as Record<string, unknown>, ranges };
}

class Lowerer {
  constructor(
    private readonly limits: SchemaLimits,
    private readonly placeholder: (ebnf: string) => string,
  ) {}

  /** One subschema (an object or a boolean), lowered. */
  node(node: unknown, path: string, depth: number): unknown {
    if (typeof node === "boolean") return node;
    if (!isObject(node)) throw new SchemaProblem("A schema must be an object or a boolean.", path);
    if (depth > MAX_DEPTH) throw new SchemaProblem(`The schema nests deeper than ${MAX_DEPTH} levels.`, path);
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      const at = `${path}/${key}`;
      if (ANNOTATIONS.has(key) || key.startsWith("x-")) continue;
      if (key in UNSUPPORTED) {
        const hint = UNSUPPORTED[key];
        throw new SchemaProblem(`The keyword "${key}" is not supported${hint ? `: ${hint}` : ""}.`, at);
      }
      out[key] = this.keyword(key, value, at, depth);
    }
    return this.lowerBounds(out, path);
  }

  private keyword(key: string, value: unknown, at: string, depth: number): unknown {
    switch (key) {
      case "properties":
      case "$defs":
      case "definitions":
        if (!isObject(value)) throw new SchemaProblem(`"${key}" must be an object of schemas.`, at);
        return Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, this.node(sub, `${at}/${name}`, depth + 1)]));
      case "items":
      case "additionalProperties":
        if (Array.isArray(value)) throw new SchemaProblem(`"${key}" must be a schema (for tuples, use prefixItems).`, at);
        return this.node(value, at, depth + 1);
      case "prefixItems":
      case "anyOf":
      case "allOf":
        if (!Array.isArray(value) || value.length === 0) throw new SchemaProblem(`"${key}" must be a non-empty array of schemas.`, at);
        if (key === "allOf" && value.length > 1) throw new SchemaProblem('"allOf" with more than one schema is not supported.', at);
        if (value.length > this.limits.maxAlternatives) throw new SchemaProblem(`"${key}" lists more than ${this.limits.maxAlternatives} schemas.`, at);
        return value.map((sub, i) => this.node(sub, `${at}/${i}`, depth + 1));
      case "type": {
        const types = Array.isArray(value) ? value : [value];
        if (types.length === 0 || !types.every((type) => typeof type === "string" && TYPES.has(type))) {
          throw new SchemaProblem(`"type" must be one of ${[...TYPES].join(", ")}, or a list of them.`, at);
        }
        return value;
      }
      case "enum":
        if (!Array.isArray(value) || value.length === 0) throw new SchemaProblem('"enum" must be a non-empty array.', at);
        if (value.length > this.limits.maxAlternatives) throw new SchemaProblem(`"enum" lists more than ${this.limits.maxAlternatives} values.`, at);
        return value;
      case "format":
        if (typeof value !== "string" || !FORMATS.has(value)) {
          throw new SchemaProblem(`The format ${JSON.stringify(value).slice(0, 40)} is not supported; these are: ${[...FORMATS].join(", ")}.`, at);
        }
        return value;
      case "uniqueItems":
        if (value !== false) throw new SchemaProblem('The keyword "uniqueItems" is not supported.', at);
        return value;
      case "pattern":
        if (typeof value !== "string") throw new SchemaProblem('"pattern" must be a string.', at);
        checkRepetitions(value, this.limits.maxRepetition, at);
        if (mayWriteEscaped(value)) {
          throw new SchemaProblem('The pattern may produce a character JSON must escape inside a string (a quote, a backslash or a control character such as \\n): leave those out (use "[ -!#-\\[\\]-~]" rather than "[ -~]", " " rather than "\\s").', at);
        }
        return value;
      case "const":
      case "required":
      case "$ref":
        return value;
      default:
        if (COUNTS.includes(key)) {
          if (!Number.isInteger(value) || (value as number) < 0) throw new SchemaProblem(`"${key}" must be a whole number.`, at);
          if ((value as number) > this.limits.maxRepetition) throw new SchemaProblem(`"${key}" ${value} is more than this node allows (${this.limits.maxRepetition}).`, at);
          return value;
        }
        if ((BOUNDS as readonly string[]).includes(key)) {
          if (typeof value !== "number" || !Number.isFinite(value) || Math.abs(value) > LARGEST) throw new SchemaProblem(`"${key}" must be a number within ±2^53.`, at);
          return value;
        }
        throw new SchemaProblem(`The keyword "${key}" is not supported.`, at);
    }
  }

  /** A node with numeric bounds becomes a placeholder for its own rule; other nodes pass. */
  private lowerBounds(node: Record<string, unknown>, path: string): Record<string, unknown> {
    if ("pattern" in node && ("minLength" in node || "maxLength" in node || "format" in node)) {
      throw new SchemaProblem('"pattern" together with "minLength", "maxLength" or "format" is not supported: put the lengths in the pattern.', path);
    }
    if ("format" in node && ("minLength" in node || "maxLength" in node)) throw new SchemaProblem('"format" together with "minLength" or "maxLength" is not supported.', path);
    if (!BOUNDS.some((key) => key in node)) return node;
    const type = node.type;
    if (type !== "integer" && type !== "number") {
      throw new SchemaProblem('Bounds ("minimum", "maximum", …) are supported on a schema of "type": "integer" or "number" only (for a choice of types, use anyOf).', path);
    }
    if ("enum" in node || "const" in node) throw new SchemaProblem('Bounds together with "enum" or "const" are not supported.', path);
    const bounds: NumberBounds = {};
    for (const key of BOUNDS) if (typeof node[key] === "number") bounds[key] = node[key] as number;
    const ebnf = boundedNumber(bounds, type === "integer");
    if (!ebnf) throw new SchemaProblem(`No ${type} lies within these bounds.`, path);
    return { const: this.placeholder(ebnf) };
  }
}

/** `{m}`, `{m,}` and `{m,n}` counts in a regex or EBNF text: none past `max`. */
export function checkRepetitions(text: string, max: number, path: string): void {
  for (const match of text.matchAll(/\{\s*(\d+)\s*(?:,\s*(\d*)\s*)?\}/g)) {
    const largest = Math.max(Number(match[1]), Number(match[2] || 0));
    if (largest > max) throw new SchemaProblem(`The repetition ${match[0]} is more than this node allows (${max}).`, path);
  }
}

/** Characters JSON writes escaped inside a string: control characters, `"` and `\`. */
const escaped = (code: number) => code < 0x20 || code === 0x22 || code === 0x5c;
const SIMPLE_ESCAPES: Record<string, number> = { n: 10, t: 9, r: 13, f: 12, v: 11, "0": 0 };

/**
 * Whether a regex may match a character JSON must escape: the EBNF xgrammar writes for a
 * pattern puts matched characters raw into the string, which is then not JSON. `.` and negated
 * classes are safe (the grammar thread takes those characters out of them, ebnf-rewrite.ts);
 * `\s`, literal quotes, backslashes and control characters, and positive classes whose ranges
 * hold any of them are not. Conservative: an unknown escape counts as unsafe.
 */
export function mayWriteEscaped(pattern: string): boolean {
  let inClass = false;
  let negated = false;
  let previous: number | undefined;
  for (let i = 0; i < pattern.length; i++) {
    let char = pattern[i];
    let code: number | undefined;
    if (char === "\\") {
      const next = pattern[++i] ?? "";
      if (next === "s" && !(inClass && negated)) return true;
      if ("dwDWSbB".includes(next)) {
        previous = undefined;
        continue;
      }
      if (next === "x" || next === "u") {
        const digits = next === "x" ? 2 : 4;
        code = parseInt(pattern.slice(i + 1, i + 1 + digits), 16);
        i += digits;
      } else code = SIMPLE_ESCAPES[next] ?? next.codePointAt(0);
      char = "";
    }
    if (char === "[" && !inClass) {
      inClass = true;
      negated = pattern[i + 1] === "^";
      if (negated) i++;
      previous = undefined;
      continue;
    }
    if (char === "]" && inClass) {
      inClass = false;
      continue;
    }
    code ??= char.codePointAt(0)!;
    if (inClass && negated) continue;
    if (inClass && char === "-" && previous !== undefined && i + 1 < pattern.length && pattern[i + 1] !== "]") {
      // A range: previous-next.
      let end = pattern[i + 1];
      let endCode = end.codePointAt(0)!;
      if (end === "\\") {
        const kind = pattern[i + 2] ?? "";
        endCode = kind === "x" ? parseInt(pattern.slice(i + 3, i + 5), 16) : kind === "u" ? parseInt(pattern.slice(i + 3, i + 7), 16) : (SIMPLE_ESCAPES[kind] ?? kind.codePointAt(0) ?? 0);
        i += kind === "x" ? 4 : kind === "u" ? 6 : 2;
      } else i++;
      for (const bad of [0x22, 0x5c]) if (previous <= bad && bad <= endCode) return true;
      if (previous < 0x20) return true;
      previous = undefined;
      continue;
    }
    if (!inClass && char !== "" && "^$.|?*+(){}".includes(char)) {
      previous = undefined;
      continue;
    }
    if (escaped(code)) return true;
    previous = code;
  }
  return false;
}
