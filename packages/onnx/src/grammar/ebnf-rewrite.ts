/**
 * Edits to the EBNF xgrammar 0.1.27 writes for a JSON schema, token by token (string literals and
 * character classes are read whole):
 * - every whitespace run between JSON tokens (`[ \n\t]*`, `[ \n\t]{0,k}`; unbounded inside its
 *   any-value rules) is bounded to `maxWhitespace` characters;
 * - characters JSON must escape (control characters, `"` and `\`) are taken out of "any
 *   character" and of negated classes: its rules for strings with a maxLength or a pattern write
 *   them raw (`[^"\\\r\n]{0,5}`, a pattern's `.` as `[\u0000-\U0010FFFF]`), which is not JSON;
 * - placeholder literals (json-schema-lowering.ts) are replaced by their rules.
 */

const WHITESPACE_RUN = /^\[ \\n\\t\](\*|\{0,\d+\})/;
const ANY_CHARACTER = "[\\u0000-\\U0010FFFF]";
const JSON_ESCAPED = "\\0-\\x1f\\\"\\\\";

export function rewriteEbnf(text: string, maxWhitespace: number, literals: ReadonlyMap<string, string>): string {
  const whitespace = maxWhitespace === 0 ? '""' : `[ \\n\\t]{0,${maxWhitespace}}`;
  let out = "";
  let i = 0;
  while (i < text.length) {
    const char = text[i];
    if (char === '"') {
      const end = closing(text, i, '"');
      const literal = text.slice(i, end + 1);
      const replacement = literals.get(literal);
      out += replacement === undefined ? literal : `(${replacement})`;
      i = end + 1;
    } else if (char === "[") {
      const run = WHITESPACE_RUN.exec(text.slice(i, i + 24));
      if (run) {
        out += whitespace;
        i += run[0].length;
        continue;
      }
      const end = closing(text, i, "]");
      const chars = text.slice(i, end + 1);
      if (chars === ANY_CHARACTER) out += `[^${JSON_ESCAPED}]`;
      else if (chars.startsWith("[^")) out += `${chars.slice(0, -1)}${JSON_ESCAPED}]`;
      else out += chars;
      i = end + 1;
    } else {
      out += char;
      i++;
    }
  }
  return out;
}

/** Index of the unescaped `close` that ends the literal or class opened at `start`. */
function closing(text: string, start: number, close: string): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === close) return i;
  }
  return text.length - 1;
}

/** The JSON string literal `value` as xgrammar's EBNF writes it: `"\"value\""`. */
export function jsonStringLiteral(value: string): string {
  return JSON.stringify(JSON.stringify(value));
}

const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]*/y;

/**
 * The same grammar with its start rule named `root` (what a structural tag's "grammar" element
 * starts from). xgrammar writes a structural tag's grammar with its own start under another name
 * (`root_10`, while `root` is a call's arguments): the start is the last rule written that no
 * other rule uses.
 */
export function startAsRoot(ebnf: string): string {
  const tokens: { name: string; at: number; defines: boolean }[] = [];
  for (let i = 0; i < ebnf.length; ) {
    const char = ebnf[i];
    if (char === '"' || char === "[") {
      i = closing(ebnf, i, char === '"' ? '"' : "]") + 1;
      continue;
    }
    IDENTIFIER.lastIndex = i;
    const match = IDENTIFIER.exec(ebnf);
    if (match && (i === 0 || !/[A-Za-z0-9_]/.test(ebnf[i - 1]))) {
      const lineStart = i === 0 || ebnf[i - 1] === "\n";
      tokens.push({ name: match[0], at: i, defines: lineStart && /^\s*::=/.test(ebnf.slice(i + match[0].length, i + match[0].length + 8)) });
      i += match[0].length;
    } else i++;
  }
  const defined = new Set(tokens.filter((t) => t.defines).map((t) => t.name));
  const used = new Set(tokens.filter((t) => !t.defines && defined.has(t.name)).map((t) => t.name));
  // Unused helper rules (copies of the JSON basics) are unreferenced too: the start is written last.
  const start = [...defined].filter((name) => !used.has(name)).pop();
  if (start === undefined) throw new Error("the grammar has no start rule");
  if (start === "root") return ebnf;
  let spare = "root_moved";
  while (defined.has(spare)) spare += "_";
  const renamed = (name: string) => (name === start ? "root" : name === "root" ? spare : name);
  let out = "";
  let from = 0;
  for (const token of tokens) {
    if (!defined.has(token.name)) continue;
    out += ebnf.slice(from, token.at) + renamed(token.name);
    from = token.at + token.name.length;
  }
  return out + ebnf.slice(from);
}
