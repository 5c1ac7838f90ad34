// Automatic prefix caching through the pipeline, as a client sees it: with the cache on, requests
// that share a prefix with earlier ones (a system prompt, a chat's earlier turns, a legacy
// session restarted) report cached prompt tokens, to the token and get the same greedy text and log
// probabilities (within 1e-4) as with the cache off — alone, in a batch of rows with different
// hit lengths, and after evictions — while the cache and the running state keep to the budget.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ChatMessage, GenerateRequest, GenerationResult } from "@modelnode/core/pipeline";
import type { OnnxPipeline } from "../src/index.js";
import { outcome, tinyPipeline } from "./helpers.js";

const BLOCK = 16;
const SYSTEM = "You are a terse assistant who answers every question about foxes and dogs in one line. ".repeat(3);
const QUESTIONS = ["Why is the fox quick?", "Is the dog lazy?", "What colour is the fox?", "Who jumps over whom?", "Name the dog.", "Where do they live?"];
const request = (prompt: string, extra: Partial<GenerateRequest> = {}): GenerateRequest => ({ modelId: "tiny", prompt, maxTokens: 12, logprobs: 0, ...extra });

/** Same text and tokens, and every token's log probability within 1e-4. */
function assertSameOutput(actual: GenerationResult, expected: GenerationResult, what: string): void {
  const strip = (result: GenerationResult) => ({ ...outcome(result), logprobs: result.logprobs?.map(({ id, token }) => ({ id, token })) });
  assert.deepEqual(strip(actual), strip(expected), what);
  actual.logprobs!.forEach((entry, i) => {
    const diff = Math.abs(entry.logprob - expected.logprobs![i].logprob);
    assert.ok(diff < 1e-4, `${what}: token ${i}'s logprob differs by ${diff}`);
  });
}

describe("prefix cache through the pipeline", () => {
  let cached: OnnxPipeline;
  let plain: OnnxPipeline;
  before(async () => {
    [cached, plain] = await Promise.all([tinyPipeline(), tinyPipeline({ prefixCache: false })]);
  });
  after(() => Promise.all([cached.close(), plain.close()]));

  test("a shared system prompt is prefilled once: later questions report it cached and answer as without the cache", async () => {
    const first = await cached.generate(request(SYSTEM + QUESTIONS[0]));
    assert.equal(first.usage.cachedTokens, undefined, "nothing cached yet");
    const prompt = await cached.countTokens("tiny", SYSTEM);
    for (const question of QUESTIONS.slice(1)) {
      const [warm, cold] = await Promise.all([cached.generate(request(SYSTEM + question)), plain.generate(request(SYSTEM + question))]);
      assertSameOutput(warm, cold, question);
      assert.ok(warm.usage.cachedTokens! >= Math.floor((prompt - 1) / BLOCK) * BLOCK, `${warm.usage.cachedTokens} of ${warm.usage.promptTokens} cached`);
      assert.ok(warm.usage.cachedTokens! < warm.usage.promptTokens);
      assert.equal(cold.usage.cachedTokens, undefined);
    }
    const stats = cached.stats();
    assert.ok(stats.prefixCacheHits > 0 && stats.prefixCacheHits <= stats.prefixCacheQueries);
    assert.ok(stats.prefixCacheBlocks > 0 && stats.prefixCacheBytes === stats.prefixCacheBlocks * BLOCK * 512);
  });

  test("the same prompt again hits all but its last token, whatever its length around a block boundary", async () => {
    const words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon ".repeat(4);
    for (const length of [BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK - 1, 3 * BLOCK, 3 * BLOCK + 1]) {
      const prompt = await cached.detokenize("tiny", (await cached.tokenize("tiny", words)).ids.slice(0, length));
      await cached.generate(request(prompt));
      const [again, cold] = await Promise.all([cached.generate(request(prompt)), plain.generate(request(prompt))]);
      assertSameOutput(again, cold, `prompt of ${again.usage.promptTokens} tokens`);
      const expected = again.usage.promptTokens >= BLOCK ? again.usage.promptTokens - 1 : 0; // a hit is a whole block at least
      assert.equal(again.usage.cachedTokens ?? 0, expected, `prompt of ${again.usage.promptTokens} tokens`);
    }
  });

  test("rows with different hit lengths run in one batch and answer as without the cache", async () => {
    const base = "The quick brown fox jumps over the lazy dog and keeps running far away. ".repeat(6);
    await cached.generate(request(base, { maxTokens: 1 }));
    const prompts = [base.slice(0, 40) + "?", base.slice(0, 200) + "!", "Unrelated words here.", base + "And then?", base.slice(0, 300)];
    const [warm, cold] = await Promise.all([Promise.all(prompts.map((p) => cached.generate(request(p)))), Promise.all(prompts.map((p) => plain.generate(request(p))))]);
    warm.forEach((result, i) => assertSameOutput(result, cold[i], `prompt ${i}`));
    const hits = new Set(warm.map((result) => result.usage.cachedTokens ?? 0));
    assert.ok(hits.size >= 3, `hit lengths ${[...hits]}`);
  });

  test("a chat's next turn finds its earlier turns, the previous answer included, to the token", async () => {
    const chat: ChatMessage[] = [{ role: "system", content: SYSTEM }];
    let previous: number[] = []; // the previous turn's prompt and answer ids, less the answer's last (sampled, never fed)
    for (const question of QUESTIONS.slice(0, 4)) {
      chat.push({ role: "user", content: question });
      const [warm, cold] = await Promise.all([cached.generate({ modelId: "tiny", messages: chat, maxTokens: 10, logprobs: 0 }), plain.generate({ modelId: "tiny", messages: chat, maxTokens: 10, logprobs: 0 })]);
      assertSameOutput(warm, cold, `turn ${chat.length}`);
      const ids = await cached.tokenizeChat!("tiny", chat);
      // Everything the previous turn's ids share with this prompt was cached (all but the prompt's last token at most).
      let same = 0;
      while (same < Math.min(ids.length, previous.length) && ids[same] === previous[same]) same++;
      if (previous.length > 0) assert.ok(same > previous.length - 2 * BLOCK, `turn ${chat.length}: the prompt parts from the previous turn's ids at ${same} of ${previous.length}`);
      assert.ok((warm.usage.cachedTokens ?? 0) >= Math.min(same, ids.length - 1), `turn ${chat.length}: ${warm.usage.cachedTokens} cached of ${warm.usage.promptTokens}; ${same} shared with the previous turn`);
      chat.push({ role: "assistant", content: warm.text });
      const answer = warm.logprobs!.map((entry) => entry.id);
      previous = [...ids, ...answer.slice(0, -1)];
    }
  });

  test("a legacy session restarted with its tokens and more starts from the cache and answers as without it", async () => {
    const prompt = (await cached.tokenize("tiny", SYSTEM + "Tell me about the dog.")).ids;
    const run = async (pipeline: OnnxPipeline, session: string, first: number[], then: number[][]) => {
      const answers = [await pipeline.step({ sessionId: session, modelId: "tiny", step: 0, inputIds: first })];
      for (const [i, ids] of then.entries()) answers.push(await pipeline.step({ sessionId: session, modelId: "tiny", step: i + 1, inputIds: ids }));
      return answers.map((answer) => answer.nextTokenId);
    };
    const steps = [[11], [12, 13], [14]];
    assert.deepEqual(await run(cached, "a", prompt, steps), await run(plain, "a", prompt, steps));
    const hitsBefore = cached.stats().prefixCacheHits;
    const longer = [...prompt, 11, 12, 13, 14, 15];
    assert.deepEqual(await run(cached, "b", longer, [[16]]), await run(plain, "b", longer, [[16]]));
    assert.equal(cached.stats().prefixCacheHits - hitsBefore, longer.length - 1, "the restarted session hit the first one's tokens, all but its last");
  });

  test("a small budget: blocks are evicted, results stay those without the cache, and memory stays within the budget", async (t) => {
    const budget = 400 * 512; // 400 tokens of the tiny model's cache; the cached blocks may take half
    const small = await tinyPipeline({ maxCacheBytes: budget });
    t.after(() => small.close());
    // The cache never takes the node over its budget: blocks are stored only in room left, and
    // given up first when running batches grow (a row joining a wider batch is padded to its
    // width for a few runs, which the admission does not foresee: then no block is left).
    const check = () => {
      const stats = small.stats();
      const total = stats.cacheBytes + stats.prefixCacheBytes;
      assert.ok(total <= budget || stats.prefixCacheBytes === 0, `${stats.cacheBytes} + ${stats.prefixCacheBytes} bytes over ${budget}`);
    };
    const prompt = (i: number) => `${SYSTEM.slice(0, 120)} Story ${i}: ${"once upon a time there was a fox ".repeat(2 + (i % 3))}`;
    const run = async (pipeline: OnnxPipeline, i: number) => {
      let result: GenerationResult | undefined;
      for await (const event of pipeline.stream(request(prompt(i), { maxTokens: 20 }))) {
        if (pipeline === small) check();
        if (event.kind === "done") result = event.result;
      }
      return result!;
    };
    // Twelve stories at once (most wait for memory), then the first four again, one by one.
    const together = await Promise.all(Array.from({ length: 12 }, (_, i) => run(small, i)));
    const again = [];
    for (let i = 0; i < 4; i++) again.push(await run(small, i));
    const expected = await Promise.all(Array.from({ length: 12 }, (_, i) => run(plain, i)));
    together.forEach((result, i) => assertSameOutput(result, expected[i], `story ${i}`));
    again.forEach((result, i) => assertSameOutput(result, expected[i], `story ${i} again`));
    const stats = small.stats();
    assert.ok(stats.prefixCacheEvictions > 0, "blocks were evicted");
    assert.ok(again.every((result) => result.usage.cachedTokens! >= 16), `cached: ${again.map((result) => result.usage.cachedTokens)}`);
    assert.ok(stats.prefixCacheBytes <= budget / 2, "the cache keeps to its share (half the budget by default)");
  });
});
