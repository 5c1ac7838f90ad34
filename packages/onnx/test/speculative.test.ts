/**
 * Speculative decoding by prompt lookup (engine/prompt-lookup.ts, engine/speculative-decode.ts):
 * it changes how fast text comes, never the text. Checked on the copy-friendly tiny model (its
 * greedy text repeats every 16 tokens, so guesses are accepted in long runs) and the plain tiny
 * model (guesses mostly fail): greedy output and logprobs equal plain decoding's; sampling keeps
 * its distribution and its seeds; stop strings, max tokens and cancellation cut inside an
 * accepted run exactly where plain decoding would end.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { GenerationEvent, GenerationResult } from "@modelnode/core/pipeline";
import { createOnnxPipeline, type OnnxPipeline } from "../src/index.js";
import { resolveOptions } from "../src/main/options.js";
import { ensureTinyModel, pipelineError } from "./helpers.js";
import { assertSame, models, PROMPTS, type Request } from "./speculative-helpers.js";

describe("speculative decoding: greedy output is plain decoding's", () => {
  for (const settings of [
    { maxDraftTokens: 1, minNgram: 1, maxNgram: 2 },
    { maxDraftTokens: 4, minNgram: 2, maxNgram: 4 },
    { maxDraftTokens: 8, minNgram: 1, maxNgram: 3 },
  ]) {
    test(`k ≤ ${settings.maxDraftTokens}, n-grams ${settings.minNgram}–${settings.maxNgram}: ids and logprobs over many prompts, alone and batched`, async (t) => {
      const pipeline = await createOnnxPipeline({ models: models(), speculative: { method: "ngram", ...settings } });
      t.after(() => pipeline.close());
      const requests: Request[] = PROMPTS.flatMap((prompt, i) => [
        { modelId: "copy", prompt, maxTokens: 24 + i * 4, logprobs: 2 },
        { modelId: "tiny", prompt, maxTokens: 16, logprobs: 2 },
        // Penalties see the accepted tokens in order: the copy model's cycle gets broken by them.
        ...(i % 3 === 0 ? [{ modelId: "copy", prompt, maxTokens: 24, logprobs: 1, frequencyPenalty: 0.7, repetitionPenalty: 1.3 }] : []),
      ]);
      const plain: GenerationResult[] = [];
      for (const request of requests) plain.push(await pipeline.generate({ ...request, speculative: false }));
      const alone: GenerationResult[] = [];
      const before = pipeline.stats();
      for (const request of requests) alone.push(await pipeline.generate({ ...request, speculative: true }));
      const batched = await Promise.all(requests.map((request) => pipeline.generate(request)));
      const stats = pipeline.stats();
      requests.forEach((request, i) => {
        assertSame(alone[i], plain[i], `request ${i} (${request.modelId}) alone`);
        assertSame(batched[i], plain[i], `request ${i} (${request.modelId}) batched`);
      });
      // It did speculate, with guesses both accepted and rejected.
      const drafted = stats.specDraftTokens - before.specDraftTokens;
      const accepted = stats.specAcceptedTokens - before.specAcceptedTokens;
      assert.ok(accepted > 60, `accepted ${accepted} guesses`);
      assert.ok(drafted > accepted, `all ${drafted} guesses accepted: no rollback exercised`);
    });
  }

  test("off (node or request) never guesses", async (t) => {
    const pipeline = await createOnnxPipeline({ models: models(), speculative: { method: "off" } });
    t.after(() => pipeline.close());
    await pipeline.generate({ modelId: "copy", prompt: "Hello", maxTokens: 60, speculative: true });
    assert.equal(pipeline.stats().specDraftTokens, 0);
    const on = await createOnnxPipeline({ models: models() });
    t.after(() => on.close());
    await on.generate({ modelId: "copy", prompt: "Hello", maxTokens: 60, speculative: false });
    assert.equal(on.stats().specDraftTokens, 0);
    await on.generate({ modelId: "copy", prompt: "Hello", maxTokens: 60 });
    assert.ok(on.stats().specAcceptedTokens > 20, "on by default");
  });
});

describe("speculative decoding: where a generation ends inside an accepted run", () => {
  let pipeline: OnnxPipeline;
  let greedy: GenerationResult;
  const base = { modelId: "copy", prompt: "The quick brown fox", logprobs: 0 };
  before(async () => {
    pipeline = await createOnnxPipeline({ models: models() });
    greedy = await pipeline.generate({ ...base, maxTokens: 80, speculative: false });
  });
  after(() => pipeline.close());

  test("max tokens: every count from 17 to 40 ends exactly there", async () => {
    const before = pipeline.stats();
    for (let maxTokens = 17; maxTokens <= 40; maxTokens++) {
      const result = await pipeline.generate({ ...base, maxTokens });
      assert.equal(result.finishReason, "length");
      assert.equal(result.usage.completionTokens, maxTokens);
      assert.deepEqual(result.logprobs!.map((e) => e.id), greedy.logprobs!.slice(0, maxTokens).map((e) => e.id));
    }
    assert.ok(pipeline.stats().specAcceptedTokens - before.specAcceptedTokens > 100);
  });

  test("stop strings deep in the repeated text end it where plain decoding does", async () => {
    const ids = greedy.logprobs!.map((entry) => entry.token);
    for (const at of [35, 42, 50, 61]) {
      const stop = ids.slice(at, at + 2).join("");
      const plain = await pipeline.generate({ ...base, maxTokens: 80, stop: [stop], speculative: false });
      const guessed = await pipeline.generate({ ...base, maxTokens: 80, stop: [stop] });
      assertSame(guessed, plain, `stop ${JSON.stringify(stop)}`);
      assert.equal(guessed.finishReason, "stop");
    }
  });

  test("cancelling mid-run ends it cancelled with a prefix of the plain text", async () => {
    const controller = new AbortController();
    const events: GenerationEvent[] = [];
    for await (const event of pipeline.stream({ ...base, maxTokens: 600, signal: controller.signal })) {
      events.push(event);
      if (event.kind === "text" && events.length === 30) controller.abort();
    }
    const done = events.at(-1)!;
    assert.equal(done.kind, "done");
    if (done.kind !== "done") return;
    assert.equal(done.result.finishReason, "cancelled");
    assert.ok(done.result.usage.completionTokens < 600);
    const full = await pipeline.generate({ ...base, maxTokens: done.result.usage.completionTokens, speculative: false });
    assert.equal(done.result.text, full.text);
    assert.equal(pipeline.stats().generationsInFlight, 0);
    assert.equal(pipeline.stats().cacheBytes, 0);
  });
});

describe("speculative decoding: settings", () => {
  test("the node's settings are checked at startup", () => {
    const models = { tiny: "x" };
    assert.deepEqual(resolveOptions({ models }).speculative, { method: "ngram", maxDraftTokens: 4, minNgram: 2, maxNgram: 4 });
    assert.throws(() => resolveOptions({ models, speculative: { method: "eagle" as "off" } }), /speculative\.method/);
    assert.throws(() => resolveOptions({ models, speculative: { maxDraftTokens: 0 } }), /speculative\.maxDraftTokens/);
    assert.throws(() => resolveOptions({ models, speculative: { maxDraftTokens: 17 } }), /speculative\.maxDraftTokens/);
    assert.throws(() => resolveOptions({ models, speculative: { minNgram: 3, maxNgram: 2 } }), /minNgram/);
  });

  test("a request's speculative must be true or false", async (t) => {
    const pipeline = await createOnnxPipeline({ models: { tiny: ensureTinyModel() } });
    t.after(() => pipeline.close());
    await assert.rejects(pipeline.generate({ modelId: "tiny", prompt: "Hi", speculative: "yes" as unknown as boolean }), pipelineError("INVALID_REQUEST"));
  });
});

