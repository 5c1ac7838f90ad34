/**
 * A request's grammar read by xgrammar in an instance of its own, before the instance that holds
 * the compiled grammars and the running generations' matchers sees it: an invalid grammar aborts
 * the instance that reads it and leaves it broken, so here a broken instance is dropped and the
 * next check loads a fresh one (tens of milliseconds). No vocabulary is needed to read a grammar.
 * For a JSON schema the check also writes what gets compiled: xgrammar's EBNF for the schema,
 * rewritten (ebnf-rewrite.ts).
 */
import type { GrammarSource } from "../shared/grammar-spec.js";
import { jsonStringLiteral, rewriteEbnf } from "./ebnf-rewrite.js";
import { loadXGrammar, XGrammarError, xgCall, type XGrammar } from "./xgrammar.js";

/** What the grammar instance compiles: EBNF text, or a regex (compiled as a structural tag). */
export type CheckedGrammar = { ebnf: string } | { regex: string };

export class GrammarChecker {
  private xg: XGrammar | undefined;

  constructor(private readonly jsonMaxWhitespace: number) {}

  /** The grammar as it will be compiled; an XGrammarError with xgrammar's message when it is not valid. */
  async check(source: GrammarSource): Promise<CheckedGrammar> {
    const xg = (this.xg ??= loadXGrammar());
    try {
      switch (source.kind) {
        case "json": {
          const ws = this.jsonMaxWhitespace;
          const written = await xgCall(() => xg.Testings._jsonSchemaToEBNF(source.schema, true, -1, undefined, source.strict, Math.max(ws, 1)));
          const ebnf = rewriteEbnf(written, ws, new Map(source.ranges.map(([placeholder, rule]) => [jsonStringLiteral(placeholder), rule])));
          await this.parse(xg, ebnf);
          return { ebnf };
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

  private async parse(xg: XGrammar, ebnf: string): Promise<void> {
    const grammar = await xgCall(() => xg.Grammar.fromEBNF(ebnf));
    grammar.dispose();
  }
}
