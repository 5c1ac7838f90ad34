/**
 * Structured output when things go wrong: invalid grammars and grammars past the limits
 * (INVALID_GRAMMAR naming the field, and a valid request right after each), a compile past its
 * deadline (the grammar thread restarted, constrained generations in flight carried over by
 * replay, unconstrained streams never stalled), cancel, resume, close.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Ajv } from "ajv";
import type { GenerateRequest, GrammarSpec } from "@modelnode/core/pipeline";
import type { OnnxPipeline } from "../src/index.js";
import { collect, pipelineError, tinyPipeline } from "./helpers.js";

const ajv = new Ajv({ strict: false });
const SMALL = { type: "object", additionalProperties: false, required: ["id", "ok"], properties: { id: { type: "integer", minimum: 0, maximum: 99 }, ok: { type: "boolean" } } };

let pipeline: OnnxPipeline;
before(async () => {
  pipeline = await tinyPipeline({ maxGrammarBytes: 4096, maxGrammarRepetition: 64, maxGrammarAlternatives: 16 });
});
after(() => pipeline.close());

const request = (grammar: GrammarSpec, extra: Partial<GenerateRequest> = {}): GenerateRequest => ({ modelId: "tiny", prompt: "Data:", temperature: 1, seed: 1, maxTokens: 64, grammar, ...extra });

function invalidGrammar(field: string) {
  return (error: any) => pipelineError("INVALID_GRAMMAR")(error) && error.details?.field === field;
}

test("an invalid grammar is INVALID_GRAMMAR naming its field, and a valid request works right after each", async () => {
  const bad: [GrammarSpec, string, RegExp][] = [
    [{ type: "json_schema", schema: { type: "object", properties: { a: { type: "wat" } } } }, "grammar.schema", /^The JSON schema at \/properties\/a\/type: "type" must be one of/],
    [{ type: "json_schema", schema: { type: "integer", multipleOf: 2 } }, "grammar.schema", /"multipleOf" is not supported/],
    [{ type: "json_schema", schema: { $ref: "#/$defs/missing" } }, "grammar.schema", /^The JSON schema is not valid: .+\.$/],
    [{ type: "json_schema", schema: { type: "array", minItems: 5, maxItems: 1 } }, "grammar.schema", /not valid: minItems is greater than maxItems/],
    [{ type: "json_schema", schema: { type: "string", pattern: "[a-" } }, "grammar.schema", /not valid: Regex parsing error/],
    [{ type: "json_schema", schema: [] as never }, "grammar.schema", /must be an object/],
    [{ type: "regex", pattern: "(?=x)y" }, "grammar.pattern", /Lookahead is not supported/],
    [{ type: "regex", pattern: "a(b" }, "grammar.pattern", /The regex is not valid/],
    [{ type: "grammar", grammar: "root ::= foo" }, "grammar", /Rule "foo" is not defined/],
    [{ type: "grammar", grammar: "root ::= (" }, "grammar", /EBNF parser error/],
    [{ type: "grammar", grammar: "start ::= \"a\"" }, "grammar", /root rule/],
    [{ type: "choice", choices: [] }, "grammar.choices", /1 to 16 non-empty strings/],
    [{ type: "nope" } as never, "grammar.type", /must be one of/],
  ];
  for (const [grammar, field, message] of bad) {
    await assert.rejects(pipeline.generate(request(grammar)), (error: any) => invalidGrammar(field)(error) && message.test(error.message), JSON.stringify(grammar));
    const ok = await pipeline.generate(request({ type: "json_schema", schema: SMALL }));
    assert.ok(ajv.validate(SMALL, JSON.parse(ok.text)), ok.text);
  }
});

test("limits: grammar bytes, repetition counts and alternatives (pipeline options)", async () => {
  const cases: [GrammarSpec, string, RegExp][] = [
    [{ type: "choice", choices: ["a".repeat(5000)] }, "grammar", /5\d{3} bytes; this node takes at most 4096/],
    [{ type: "regex", pattern: "[a-z]{65}" }, "grammar.pattern", /\{65\} is more than this node allows \(64\)/],
    [{ type: "grammar", grammar: 'root ::= "a"{1,100}' }, "grammar.grammar", /\{1,100\}/],
    [{ type: "json_schema", schema: { type: "array", maxItems: 65 } }, "grammar.schema", /"maxItems" 65 is more than/],
    [{ type: "json_schema", schema: { enum: Array.from({ length: 17 }, (_, i) => i) } }, "grammar.schema", /more than 16 values/],
    [{ type: "choice", choices: Array.from({ length: 17 }, (_, i) => `c${i}`) }, "grammar.choices", /1 to 16/],
  ];
  for (const [grammar, field, message] of cases) {
    await assert.rejects(pipeline.generate(request(grammar)), (error: any) => invalidGrammar(field)(error) && message.test(error.message), JSON.stringify(grammar).slice(0, 80));
  }
  assert.equal((await pipeline.generate(request({ type: "regex", pattern: "[a-z]{64}" }, { maxTokens: 80 }))).text.length, 64);
});

test("cancel: while its grammar compiles, and while it generates", async () => {
  const compiling = new AbortController();
  const pending = pipeline.generate(request({ type: "json_schema", schema: { ...SMALL, title: "fresh" } }, { signal: compiling.signal }));
  compiling.abort();
  assert.equal((await pending).finishReason, "cancelled");

  const controller = new AbortController();
  let result;
  let pieces = 0;
  for await (const event of pipeline.stream(request({ type: "json_object" }, { maxTokens: 400, signal: controller.signal }))) {
    if (event.kind === "text" && ++pieces === 3) controller.abort();
    if (event.kind === "done") result = event.result;
  }
  assert.equal(result?.finishReason, "cancelled");
});

test("resume: a constrained generation continued from its first tokens ends with the same text; ids the grammar refuses are INVALID_REQUEST", async () => {
  const grammar: GrammarSpec = { type: "json_schema", schema: SMALL };
  const greedy = request(grammar, { temperature: 0 });
  const events = await collect(pipeline.stream(greedy));
  const ids = events.flatMap((event) => (event.kind === "text" ? event.tokenIds ?? [] : []));
  const whole = events.at(-1)!;
  assert.equal(whole.kind, "done");
  const half = ids.slice(0, Math.max(1, ids.length >> 1));
  const resumed = await pipeline.generate({ ...greedy, resume: { generatedIds: half, deliveredChars: 0 } });
  assert.equal(resumed.text, whole.kind === "done" ? whole.result.text : "");
  await assert.rejects(pipeline.generate({ ...greedy, resume: { generatedIds: [32, 32, 32, 32], deliveredChars: 0 } }), pipelineError("INVALID_REQUEST"));
});

test("a compile past its deadline: INVALID_GRAMMAR at once and on retry; constrained streams in flight carry on, unconstrained ones never stall", async () => {
  const slowLimitMs = 150;
  const strict = await tinyPipeline({ grammarCompileTimeoutMs: slowLimitMs, maxGrammarRepetition: 5000 });
  try {
    // Opened before the slow grammar: its matcher is rebuilt (replayed) on the new grammar thread.
    const constrained = strict.generate({ modelId: "tiny", prompt: "A:", temperature: 1, seed: 4, maxTokens: 200, grammar: { type: "json_schema", schema: SMALL } });
    const gaps: number[] = [];
    const plain = (async () => {
      let last = performance.now();
      for await (const event of strict.stream({ modelId: "tiny", prompt: "Long story:", maxTokens: 400, temperature: 0 })) {
        const now = performance.now();
        if (event.kind === "text") gaps.push(now - last);
        last = now;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const slow: GrammarSpec = { type: "json_schema", schema: { type: "object", properties: { a: { type: "string", maxLength: 3000 }, b: { type: "string", maxLength: 2999 } } } };
    const started = performance.now();
    await assert.rejects(strict.generate({ modelId: "tiny", prompt: "x", grammar: slow }), (error: any) => invalidGrammar("grammar")(error) && error.details.limit_ms === slowLimitMs);
    const failedAfter = performance.now() - started;
    const retried = performance.now();
    await assert.rejects(strict.generate({ modelId: "tiny", prompt: "x", grammar: slow }), pipelineError("INVALID_GRAMMAR"));
    assert.ok(performance.now() - retried < slowLimitMs, "a grammar known to be slow fails at once");
    const done = await constrained;
    assert.ok(ajv.validate(SMALL, JSON.parse(done.text)), done.text);
    await plain;
    const worst = Math.max(...gaps);
    console.log(`# deadline ${slowLimitMs} ms: refused after ${failedAfter.toFixed(0)} ms; unconstrained stream: ${gaps.length} chunks, worst gap ${worst.toFixed(1)} ms`);
    // That grammar alone would take seconds to compile (maxLength 1000 took GPT-2's vocabulary 5 s);
    // the bound is loose because this machine's cores are shared with other tests.
    assert.ok(worst < 3000, `an unconstrained stream stalled ${worst} ms`);
    const after = await strict.generate({ modelId: "tiny", prompt: "x", temperature: 1, seed: 2, grammar: { type: "choice", choices: ["fine"] } });
    assert.equal(after.text, "fine");
  } finally {
    await strict.close();
  }
});

test("a small grammar cache: grammars evicted and compiled again still constrain", async () => {
  const small = await tinyPipeline({ grammarCacheSize: 2 });
  try {
    const choices = [["a1", "a2"], ["b1", "b2"], ["c1", "c2"], ["a1", "a2"], ["b1", "b2"]];
    for (const [i, options] of choices.entries()) {
      const result = await small.generate({ modelId: "tiny", prompt: "x", temperature: 1, seed: i, grammar: { type: "choice", choices: options } });
      assert.ok(options.includes(result.text), result.text);
    }
  } finally {
    await small.close();
  }
});

test("closing the pipeline while a grammar is prepared fails that request with SHUTTING_DOWN", async () => {
  const closing = await tinyPipeline();
  const refused = assert.rejects(closing.generate(request({ type: "json_schema", schema: SMALL })), pipelineError("SHUTTING_DOWN"));
  await closing.close();
  await refused;
});
