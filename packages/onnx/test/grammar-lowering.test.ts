/**
 * The pure parts of structured output: numeric bounds as EBNF (checked value by value against
 * plain comparisons, through a regex made from the EBNF), the JSON-schema lowering (what is
 * refused, what becomes a placeholder) and the rewrite of xgrammar's EBNF.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rewriteEbnf } from "../src/grammar/ebnf-rewrite.js";
import { Utf8Guard } from "../src/grammar/utf8-guard.js";
import { lowerSchema, mayWriteEscaped, SchemaProblem } from "../src/shared/json-schema-lowering.js";
import { boundedNumber, type NumberBounds } from "../src/shared/number-ranges.js";

/** The EBNF expressions number-ranges.ts writes (literals, classes, counts, groups, |) as a RegExp. */
function toRegExp(ebnf: string): RegExp {
  const source = ebnf
    .replace(/"((?:[^"\\]|\\.)*)"/g, (_, text: string) => JSON.parse(`"${text}"`).replace(/[.*+?^${}()|[\]\\-]/g, "\\$&"))
    .replace(/\s+/g, "");
  return new RegExp(`^(?:${source})$`);
}

const VALUES = [
  ...Array.from({ length: 2401 }, (_, i) => String(i - 1200)),
  ...Array.from({ length: 400 }, (_, i) => ((i - 200) / 8).toString()),
  ...["0.5", "-0.5", "0.05", "1.25", "99.5", "100.5", "-100.5", "120.000001", "1e5", "-0", "0.0", "01", "1.50", "12345678", "-12345678"],
];

function check(bounds: NumberBounds, integer: boolean): void {
  const ebnf = boundedNumber(bounds, integer);
  assert.ok(ebnf, JSON.stringify(bounds));
  const regex = toRegExp(ebnf);
  const { minimum = -Infinity, maximum = Infinity, exclusiveMinimum = -Infinity, exclusiveMaximum = Infinity } = bounds;
  let accepted = 0;
  for (const text of VALUES) {
    if (!regex.test(text)) continue;
    accepted++;
    const value = Number(text);
    const valid = value >= minimum && value <= maximum && value > exclusiveMinimum && value < exclusiveMaximum && (!integer || Number.isInteger(value));
    assert.ok(valid, `${JSON.stringify(bounds)} ${integer ? "integer" : "number"} allowed ${text}`);
    assert.equal(String(JSON.parse(text)), text.includes(".") ? String(value) : text, `${text} is not canonical JSON`);
  }
  assert.ok(accepted > 0, `${JSON.stringify(bounds)} allowed none of the samples`);
}

test("bounded integers and numbers: every value the rule allows is within the bounds, in canonical JSON", () => {
  const cases: NumberBounds[] = [
    { minimum: 0, maximum: 120 },
    { minimum: -5, maximum: 5 },
    { minimum: 1, maximum: 999 },
    { minimum: 100, maximum: 200 },
    { minimum: -120, maximum: -7 },
    { minimum: 5 },
    { minimum: -40 },
    { maximum: 0 },
    { maximum: -3 },
    { maximum: 1050 },
    { exclusiveMinimum: 0, exclusiveMaximum: 10 },
    { exclusiveMinimum: -5, exclusiveMaximum: 5 },
    { minimum: 0.5, maximum: 99.5 },
    { minimum: 0, maximum: 1 },
    { minimum: 7, maximum: 7 },
  ];
  for (const bounds of cases) {
    check(bounds, true);
    check(bounds, false);
  }
  // Completeness where it matters: every whole number in range, and fractions strictly inside.
  const range = toRegExp(boundedNumber({ minimum: -120, maximum: 1050 }, true)!);
  for (let n = -120; n <= 1050; n++) assert.ok(range.test(String(n)), String(n));
  const unit = toRegExp(boundedNumber({ minimum: 0, maximum: 1 }, false)!);
  for (const text of ["0", "1", "0.5", "0.25", "0.999999"]) assert.ok(unit.test(text), text);
  assert.equal(boundedNumber({ minimum: 3, maximum: 2 }, true), undefined);
  assert.equal(boundedNumber({ exclusiveMinimum: 2, exclusiveMaximum: 3 }, true), undefined);
});

const limits = { maxRepetition: 256, maxAlternatives: 1024 };

test("a schema's bounds become placeholders; annotations go; what xgrammar cannot enforce is refused by name and place", () => {
  const lowered = lowerSchema(
    { type: "object", title: "T", "x-vendor": 1, properties: { n: { type: "integer", minimum: 0, maximum: 9, description: "d" }, s: { type: "string", maxLength: 4 } } },
    limits,
  );
  assert.deepEqual(lowered.schema, { type: "object", properties: { n: { const: "modelnode-range-0" }, s: { type: "string", maxLength: 4 } } });
  assert.equal(lowered.ranges.length, 1);
  // The placeholder never collides with a string already in the schema.
  assert.equal(lowerSchema({ enum: ["modelnode-range-0"], $defs: { a: { type: "number", minimum: 1 } } }, limits).ranges[0][0], "modelnode-range-x0");

  const refused: [Record<string, unknown>, RegExp, string][] = [
    [{ type: "integer", multipleOf: 3 }, /"multipleOf" is not supported/, "/multipleOf"],
    [{ oneOf: [{ type: "string" }] }, /use anyOf/, "/oneOf"],
    [{ type: "array", uniqueItems: true }, /uniqueItems/, "/uniqueItems"],
    [{ properties: { a: { type: "string", pattern: "^a+$", maxLength: 3 } } }, /pattern" together with/, "/properties/a"],
    [{ type: "string", format: "email" }, /format "email" is not supported/, "/format"],
    [{ type: "string", maxLength: 100000 }, /more than this node allows \(256\)/, "/maxLength"],
    [{ type: "string", pattern: "a{1,5000}" }, /repetition \{1,5000\}/, "/pattern"],
    [{ enum: Array.from({ length: 2000 }, (_, i) => i) }, /more than 1024 values/, "/enum"],
    [{ type: ["integer", "null"], minimum: 0 }, /use anyOf/, ""],
    [{ type: "wat" }, /"type" must be one of/, "/type"],
    [{ allOf: [{ type: "string" }, { maxLength: 2 }] }, /allOf" with more than one/, "/allOf"],
    [{ type: "integer", minimum: 5, maximum: 1 }, /No integer lies within these bounds/, ""],
    [{ items: [{ type: "string" }] }, /prefixItems/, "/items"],
    [{ wat: 1 }, /"wat" is not supported/, "/wat"],
  ];
  for (const [schema, message, path] of refused) {
    assert.throws(() => lowerSchema(schema, limits), (error: unknown) => error instanceof SchemaProblem && message.test(error.message) && error.path === path, JSON.stringify(schema));
  }
});

test("xgrammar's EBNF rewritten: whitespace runs bounded, JSON-escaped characters out of raw strings, placeholders replaced", () => {
  const written = [
    'basic_string_sub ::= ("\\"" | [^\\0-\\x1f\\"\\\\\\r\\n] basic_string_sub) (= [ \\n\\t]{0,2} [,}\\]:])',
    'basic_array ::= "[" [ \\n\\t]* basic_any "]"',
    'string ::= "\\"" [^"\\\\\\r\\n]{0,5} "\\""',
    'string_1 ::= "\\"" [\\u0000-\\U0010FFFF]{1,3} "\\""',
    'root ::= "{" [ \\n\\t]{0,2} "\\"n\\"" ":" "\\"modelnode-range-0\\"" "\\"[ \\n\\t]*\\"" "}"',
  ].join("\n");
  const rewritten = rewriteEbnf(written, 1, new Map([['"\\"modelnode-range-0\\""', '[0-9]']]));
  assert.equal(
    rewritten,
    [
      'basic_string_sub ::= ("\\"" | [^\\0-\\x1f\\"\\\\\\r\\n\\0-\\x1f\\"\\\\] basic_string_sub) (= [ \\n\\t]{0,1} [,}\\]:])',
      'basic_array ::= "[" [ \\n\\t]{0,1} basic_any "]"',
      'string ::= "\\"" [^"\\\\\\r\\n\\0-\\x1f\\"\\\\]{0,5} "\\""',
      'string_1 ::= "\\"" [^\\0-\\x1f\\"\\\\]{1,3} "\\""',
      // A literal that looks like whitespace is left alone.
      'root ::= "{" [ \\n\\t]{0,1} "\\"n\\"" ":" ([0-9]) "\\"[ \\n\\t]*\\"" "}"',
    ].join("\n"),
  );
  assert.match(rewriteEbnf('a ::= [ \\n\\t]* "x"', 0, new Map()), /^a ::= "" "x"$/);
});

test("patterns that could write a character JSON escapes inside a string are found", () => {
  for (const safe of ["^[A-Z]{2}-[0-9]{3}$", "[a-z]+", "\\d+\\.\\d", ".{1,3}", "[^a]", "[^\\s]+", "\\w+@\\w+", "[ -!#-\\[\\]-~]+", "a|b", "(x)?y*"]) {
    assert.equal(mayWriteEscaped(safe), false, safe);
  }
  for (const unsafe of ["[ -~]", "a\\sb", "[\\s]", '"', 'a\\"b', "\\\\", "\\n", "[\\x00-\\x7f]", "[!-~]", "x\ny", "[\\u0000-z]", "\\x1f"]) {
    assert.equal(mayWriteEscaped(unsafe), true, unsafe);
  }
  assert.throws(() => lowerSchema({ type: "string", pattern: "^[ -~]{1,8}$" }, limits), /a character JSON must escape/);
  // Invalid patterns are xgrammar's to report: no crash here.
  for (const broken of ["[a-", "[a-\\", "\\", "[", "a\\x"]) assert.equal(typeof mayWriteEscaped(broken), "boolean", broken);
});

test("the UTF-8 guard: a token is allowed only where its bytes continue valid UTF-8", () => {
  // 0 "a", 1 a continuation byte, 2 a 2-byte lead, 3 "é" whole, 4 a 3-byte lead then one continuation, 5 ED A0 (a surrogate's start), 6 "" (special)
  const tokens = [[0x61], [0xa9], [0xc3], [0xc3, 0xa9], [0xe4, 0xb8], [0xed, 0xa0], []].map((bytes) => Uint8Array.from(bytes));
  const guard = Utf8Guard.build(tokens.length, (id) => tokens[id]);
  const allowed = (state: number) => {
    const mask = new Int32Array([-1]);
    guard.restrict(mask, state);
    return tokens.map((_, id) => (mask[0] >>> id) & 1);
  };
  assert.deepEqual(allowed(0), [1, 0, 1, 1, 1, 0, 1]);
  const afterLead = guard.after(0, 2);
  assert.deepEqual(allowed(afterLead), [0, 1, 0, 0, 0, 0, 1]);
  assert.equal(guard.after(afterLead, 1), 0);
  const midThree = guard.after(0, 4);
  assert.deepEqual(allowed(midThree), [0, 1, 0, 0, 0, 0, 1]);
});
