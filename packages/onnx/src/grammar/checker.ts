/**
 * A request's grammar read by xgrammar in an instance of its own, before the instance that holds
 * the compiled grammars and the running generations' matchers sees it: an invalid grammar aborts
 * the instance that reads it and leaves it broken, so here a broken instance is dropped and the
 * next check loads a fresh one (tens of milliseconds). No vocabulary is needed to read a grammar.
 * For a JSON schema the check also writes what gets compiled: xgrammar's EBNF for the schema,
 * rewritten (ebnf-rewrite.ts).
 */
import type { GrammarSource } from "../shared/grammar-spec.js";
import { toolTag, toolTrigger, type ToolsGrammarSource } from "../shared/tool-grammar.js";
import { jsonStringLiteral, rewriteEbnf, startAsRoot } from "./ebnf-rewrite.js";
import { loadXGrammar, XGrammarError, xgCall, type XGrammar } from "./xgrammar.js";

/** What the grammar instance compiles: EBNF text, a regex (compiled as a structural tag), or a structural tag. */
export type CheckedGrammar = { ebnf: string } | { regex: string } | { structuralTag: Record<string, unknown> };

export class GrammarChecker {
  private xg: XGrammar | undefined;

  constructor(private readonly jsonMaxWhitespace: number) {}

  /** The grammar as it will be compiled; an XGrammarError with xgrammar's message when it is not valid. */
  async check(source: GrammarSource): Promise<CheckedGrammar> {
    const xg = (this.xg ??= loadXGrammar());
    try {
      switch (source.kind) {
        case "json": {
          const ebnf = await this.schemaEbnf(xg, source);
          await this.parse(xg, ebnf);
          return { ebnf };
        }
        case "tools": {
          const structuralTag = await this.toolsTag(xg, source);
          const grammar = await xgCall(() => xg.Grammar.fromStructuralTag(structuralTag as never));
          grammar.dispose();
          return { structuralTag };
        }
        case "regex": {
          const grammar = await xgCall(() => xg.Grammar.fromStructuralTag({ type: "regex", pattern: source.pattern } as never));
          grammar.dispose();
          return { regex: source.pattern };
        }
        case "ebnf":
          await this.parse(xg, source.ebnf);
          return { ebnf: source.ebnf };
      }
    } catch (error) {
      if (!(error instanceof XGrammarError) || error.aborted) this.xg = undefined;
      throw error;
    }
  }

  /** xgrammar's EBNF for a lowered schema, its whitespace bounded and its placeholders replaced (ebnf-rewrite.ts). */
  private async schemaEbnf(xg: XGrammar, source: { schema: string; strict: boolean; ranges: [string, string][] }): Promise<string> {
    const ws = this.jsonMaxWhitespace;
    const written = await xgCall(() => xg.Testings._jsonSchemaToEBNF(source.schema, true, -1, undefined, source.strict, Math.max(ws, 1)));
    return rewriteEbnf(written, ws, new Map(source.ranges.map(([placeholder, rule]) => [jsonStringLiteral(placeholder), rule])));
  }

  /**
   * Tool calls as an xgrammar structural tag: one tag per function (the format's opening with the
   * function's name, its arguments as the schema's EBNF, the closing); "required" as tags with a
   * separator, at least one; "auto" as tags triggered by the format's opening, or, with a grammar
   * of the request's own, either those calls or that grammar; `single`: stop after the first call.
   */
  private async toolsTag(xg: XGrammar, source: ToolsGrammarSource): Promise<Record<string, unknown>> {
    const tags = [];
    for (const tool of source.tools) {
      const grammar = await this.schemaEbnf(xg, { schema: tool.schema, strict: true, ranges: tool.ranges });
      tags.push({ type: "tag", ...toolTag(source.format, tool.name), content: { type: "grammar", grammar } });
    }
    const calls = { type: "tags_with_separator", tags, separator: "\n", at_least_one: true, stop_after_first: source.single };
    const { otherwise } = source;
    let format: Record<string, unknown>;
    if (source.mode === "required") format = calls;
    else if (otherwise === undefined) format = { type: "triggered_tags", triggers: [toolTrigger(source.format)], tags, at_least_one: false, stop_after_first: source.single };
    else {
      // Calls, or the request's own grammar: a reply that calls nothing follows it (no free text).
      const reply =
        otherwise.kind === "regex"
          ? { type: "regex", pattern: otherwise.pattern }
          : { type: "grammar", grammar: otherwise.kind === "json" ? await this.schemaEbnf(xg, otherwise) : otherwise.ebnf };
      // xgrammar takes tags_with_separator only at the top of a tag: the calls go in as their grammar.
      const grammar = await xgCall(() => xg.Grammar.fromStructuralTag({ type: "structural_tag", format: calls } as never));
      const callsEbnf = startAsRoot(grammar.toString());
      grammar.dispose();
      format = { type: "or", elements: [{ type: "grammar", grammar: callsEbnf }, reply] };
    }
    return { type: "structural_tag", format };
  }

  private async parse(xg: XGrammar, ebnf: string): Promise<void> {
    const grammar = await xgCall(() => xg.Grammar.fromEBNF(ebnf));
    grammar.dispose();
  }
}
