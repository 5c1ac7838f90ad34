/**
 * The grammar thread's state: one xgrammar instance holding, per model, its vocabulary
 * (`TokenizerInfo`, built on the model's first constrained request) and a compiler; compiled
 * grammars in a cache keyed by model and grammar (least recently used out, disposed); and one
 * matcher per open generation. Grammars are checked in another instance first (checker.ts), so
 * this one should never abort; if it does anyway, it says "broken" and the engine restarts the
 * thread, reopening its generations by replaying their tokens.
 *
 * Messages are handled one at a time, in order: a compile delays the masks of other constrained
 * generations (never the unconstrained ones, which do not wait for this thread), and the engine's
 * deadline bounds how long (see engine/grammars.ts).
 */
import { errors } from "@modelnode/core/pipeline";
import { serializeError } from "../messages/errors.js";
import type { FromGrammar, GrammarModel, GrammarThreadOptions, TokenMask, ToGrammar } from "../messages/grammar-protocol.js";
import { GRAMMAR_FIELD, type GrammarSource } from "../shared/grammar-spec.js";
import { GrammarChecker, type CheckedGrammar } from "./checker.js";
import type { Utf8Guard } from "./utf8-guard.js";
import { tokenizerInfo } from "./vocabulary.js";
import { loadXGrammar, XGrammarError, xgCall, type CompiledGrammar, type GrammarCompiler, type GrammarMatcher, type TokenizerInfo } from "./xgrammar.js";

interface Matcher {
  matcher: GrammarMatcher;
  model: GrammarModel;
  /** Its model's UTF-8 guard, and the state of the generation's bytes in it. */
  guard: Utf8Guard;
  utf8: number;
}

interface ModelEntry {
  info: TokenizerInfo;
  compiler: GrammarCompiler;
  guard: Utf8Guard;
}

/** Where a grammar problem is, by kind: a schema's is in its schema; a regex's in its pattern; … */
const FIELD_OF: Record<GrammarSource["kind"], string> = { json: `${GRAMMAR_FIELD}.schema`, regex: `${GRAMMAR_FIELD}.pattern`, ebnf: GRAMMAR_FIELD, tools: "tools" };
const NAME_OF: Record<GrammarSource["kind"], string> = { json: "JSON schema", regex: "regex", ebnf: "grammar", tools: "tools' grammar" };

export class GrammarService {
  private readonly xg = loadXGrammar();
  private readonly checker: GrammarChecker;
  private readonly compilers = new Map<string, Promise<ModelEntry>>();
  /** Map order is recency: oldest first. */
  private readonly cache = new Map<string, CompiledGrammar>();
  private readonly matchers = new Map<number, Matcher>();
  private queue: Promise<void> = Promise.resolve();
  private broken = false;

  constructor(
    private readonly options: GrammarThreadOptions,
    private readonly send: (message: FromGrammar, transfer?: ArrayBuffer[]) => void,
  ) {
    this.checker = new GrammarChecker(options.jsonMaxWhitespace);
  }

  /** Queues a message: each is handled after the one before it is done. */
  handle(message: ToGrammar): void {
    this.queue = this.queue.then(() => (this.broken ? undefined : this.run(message)));
  }

  private breaks(error: unknown): void {
    this.broken = true;
    this.send({ type: "broken", error: serializeError(error) });
  }

  private async run(message: ToGrammar): Promise<void> {
    try {
      switch (message.type) {
        case "open":
          return await this.open(message.id, message.model, message.source, message.key, message.replay);
        case "advance":
          return await this.advance(message.steps);
        case "close":
          for (const id of message.ids) this.drop(id);
          return;
      }
    } catch (error) {
      // An open that fails fails that generation; anything else leaves the matchers in doubt.
      if (message.type === "open" && !(error instanceof XGrammarError && error.aborted)) this.send({ type: "failed", id: message.id, error: serializeError(error) });
      else this.breaks(error);
    }
  }

  /** The grammar as it will be compiled, or INVALID_GRAMMAR naming the request's field for its kind. */
  private async check(source: GrammarSource): Promise<CheckedGrammar> {
    try {
      return await this.checker.check(source);
    } catch (error) {
      const reason = (error as Error).message.replace(/\.?\s*$/, "");
      throw errors.invalidGrammar(`The ${NAME_OF[source.kind]} is not valid: ${reason}.`, FIELD_OF[source.kind]);
    }
  }

  private async open(id: number, model: GrammarModel, source: GrammarSource, key: string, replay: number[]): Promise<void> {
    this.drop(id);
    const cacheKey = `${model.id}\n${key}`;
    let compiled = this.cache.get(cacheKey);
    let compileMs: number | undefined;
    if (compiled) {
      this.cache.delete(cacheKey);
      this.cache.set(cacheKey, compiled);
    } else {
      // A reply format beside the calls is read alone first, so that its errors name its own field.
      if (source.kind === "tools" && source.otherwise) await this.check(source.otherwise);
      const checked = await this.check(source);
      const { compiler } = await this.compiler(model);
      this.send({ type: "compiling", id });
      const started = performance.now();
      compiled = await this.compile(compiler, checked);
      compileMs = performance.now() - started;
      this.remember(cacheKey, compiled);
    }
    const { guard } = await this.compiler(model);
    const stops = model.eosIds;
    const matcher = await xgCall(() => this.xg.GrammarMatcher.createGrammarMatcher(compiled, stops, stops.length === 0));
    const entry: Matcher = { matcher, model, guard, utf8: 0 };
    for (const token of replay) {
      if (matcher.isTerminated() || !matcher.acceptToken(token)) {
        matcher.dispose();
        throw errors.invalidRequest("The resumed generation's token ids do not follow the request's grammar.", "resume");
      }
      entry.utf8 = guard.after(entry.utf8, token);
    }
    this.matchers.set(id, entry);
    const mask = await this.mask(entry);
    this.send({ type: "opened", id, mask, compileMs }, mask ? [mask.buffer as ArrayBuffer] : []);
  }

  private async compile(compiler: GrammarCompiler, checked: CheckedGrammar): Promise<CompiledGrammar> {
    if ("regex" in checked) return xgCall(() => compiler.compileStructuralTag({ type: "regex", pattern: checked.regex } as never));
    if ("structuralTag" in checked) return xgCall(() => compiler.compileStructuralTag(checked.structuralTag as never));
    // A Grammar made here is disposed here (compileGrammar(string) leaks the one it makes).
    const grammar = await xgCall(() => this.xg.Grammar.fromEBNF(checked.ebnf));
    try {
      return await xgCall(() => compiler.compileGrammar(grammar));
    } finally {
      grammar.dispose();
    }
  }

  private remember(key: string, compiled: CompiledGrammar): void {
    this.cache.set(key, compiled);
    while (this.cache.size > this.options.cacheSize) {
      const [oldest, grammar] = this.cache.entries().next().value!;
      this.cache.delete(oldest);
      grammar.dispose(); // safe while matchers made from it live on
    }
  }

  private compiler(model: GrammarModel): Promise<ModelEntry> {
    let entry = this.compilers.get(model.id);
    if (!entry) {
      entry = (async () => {
        const { info, guard } = await tokenizerInfo(this.xg, model);
        // This thread's cache (above) bounds memory; xgrammar's own would grow without limit.
        return { info, guard, compiler: await xgCall(() => this.xg.GrammarCompiler.createGrammarCompiler(info, false)) };
      })();
      this.compilers.set(model.id, entry);
      entry.catch(() => this.compilers.delete(model.id));
    }
    return entry;
  }

  /** Accepts each generation's token; one "masks" reply with each one's next mask. */
  private async advance(steps: [number, number][]): Promise<void> {
    const masks: [number, TokenMask][] = [];
    const transfer: ArrayBuffer[] = [];
    for (const [id, token] of steps) {
      const entry = this.matchers.get(id);
      if (!entry) continue; // closed meanwhile
      if (entry.matcher.isTerminated() || !entry.matcher.acceptToken(token)) {
        this.drop(id);
        this.send({ type: "failed", id, error: serializeError(new Error(`the grammar refused token ${token}, which its mask allowed`)) });
        continue;
      }
      entry.utf8 = entry.guard.after(entry.utf8, token);
      const mask = await this.mask(entry);
      masks.push([id, mask]);
      if (mask) transfer.push(mask.buffer as ArrayBuffer);
    }
    if (masks.length > 0) this.send({ type: "masks", masks }, transfer);
  }

  /**
   * The next mask (the grammar's, less what would break UTF-8), or null once the text is complete
   * and ended (asking then would abort the instance).
   */
  private async mask({ matcher, guard, utf8 }: Matcher): Promise<TokenMask> {
    if (matcher.isTerminated()) return null;
    const mask = await xgCall(() => matcher.getNextTokenBitmask());
    guard.restrict(mask, utf8);
    return mask;
  }

  private drop(id: number): void {
    const entry = this.matchers.get(id);
    if (!entry) return;
    this.matchers.delete(id);
    entry.matcher.dispose();
  }
}
