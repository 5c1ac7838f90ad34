// startAsRoot (grammar/ebnf-rewrite.ts): a structural tag's EBNF, as xgrammar 0.1.27 writes it, with
// its start rule renamed `root` so that another structural tag can embed it as a "grammar" element.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startAsRoot } from "../src/grammar/ebnf-rewrite.js";
import { loadXGrammar, xgCall } from "../src/grammar/xgrammar.js";

const CALL = '<tool_call>\n{"name": "f", "arguments": {"ok": true}}\n</tool_call>';

test("the last rule no other rule uses becomes root; the old root (a call's arguments) is renamed, also where used; literals are left alone", () => {
  const ebnf = [
    'basic_boolean ::= (("true") | ("false"))',
    'basic_unused ::= (("null"))',
    'root ::= (("{" "\\"ok\\"" ":" basic_boolean "}"))',
    'tag ::= (("<tool_call>\\n{\\"name\\": \\"root\\", \\"arguments\\": " root "}\\n</tool_call>"))',
    "root_1 ::= ((tag))",
    "",
  ].join("\n");
  const out = startAsRoot(ebnf);
  assert.equal(
    out,
    [
      'basic_boolean ::= (("true") | ("false"))',
      'basic_unused ::= (("null"))',
      'root_moved ::= (("{" "\\"ok\\"" ":" basic_boolean "}"))',
      'tag ::= (("<tool_call>\\n{\\"name\\": \\"root\\", \\"arguments\\": " root_moved "}\\n</tool_call>"))',
      "root ::= ((tag))",
      "",
    ].join("\n"),
  );
  assert.equal(startAsRoot('root ::= "a"\n'), 'root ::= "a"\n');
});

test("xgrammar reads the renamed grammar as the structural tag it came from: the calls, and nothing else", async () => {
  const xg = loadXGrammar();
  const tag = { type: "tag", begin: '<tool_call>\n{"name": "f", "arguments": ', content: { type: "json_schema", json_schema: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] } }, end: "}\n</tool_call>" };
  const calls = await xgCall(() => xg.Grammar.fromStructuralTag({ type: "structural_tag", format: { type: "tags_with_separator", tags: [tag], separator: "\n", at_least_one: true, stop_after_first: false } } as never));
  const written = calls.toString();
  calls.dispose();
  const asIs = await xgCall(() => xg.Grammar.fromEBNF(written));
  assert.equal(await xg.Testings.isGrammarAcceptString(asIs, CALL), false); // root is the arguments object
  const rooted = await xgCall(() => xg.Grammar.fromEBNF(startAsRoot(written)));
  assert.equal(await xg.Testings.isGrammarAcceptString(rooted, CALL), true);
  assert.equal(await xg.Testings.isGrammarAcceptString(rooted, `${CALL}\n${CALL}`), true);
  assert.equal(await xg.Testings.isGrammarAcceptString(rooted, '{"ok": true}'), false);
  asIs.dispose();
  rooted.dispose();
});
