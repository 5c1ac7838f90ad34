/**
 * Speculative decoding (engine/speculative-decode.ts): a generation that ends inside an accepted
 * run of guesses — max tokens, a stop string, a cancellation — ends exactly where plain decoding
 * ends, on the copy-friendly tiny model; and the switches are checked.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { GenerationEvent, GenerationResult } from "@modelnode/core/pipeline";
import { createOnnxPipeline, type OnnxPipeline } from "../src/index.js";
import { resolveOptions } from "../src/main/options.js";
import { ensureTinyModel, pipelineError } from "./helpers.js";
import { assertSame, models } from "./speculative-helpers.js";

describe("speculative decoding: where a generation ends inside an accepted run", () => {
  let pipeline: OnnxPipeline;
  let greedy: GenerationResult;
  const base = { modelId: "copy", prompt: "The quick brown fox", logprobs: 0 };
  before(async () => {
    pipeline = await createOnnxPipeline({ models: models(), speculative: { method: "ngram", positionCost: 0 } });
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
    assert.deepEqual(resolveOptions({ models }).speculative, { method: "off", maxDraftTokens: 4, minNgram: 2, maxNgram: 4 });
    assert.throws(() => resolveOptions({ models, speculative: { method: "eagle" as "off" } }), /speculative\.method/);
    assert.throws(() => resolveOptions({ models, speculative: { maxDraftTokens: 0 } }), /speculative\.maxDraftTokens/);
    assert.throws(() => resolveOptions({ models, speculative: { maxDraftTokens: 17 } }), /speculative\.maxDraftTokens/);
    assert.throws(() => resolveOptions({ models, speculative: { minNgram: 3, maxNgram: 2 } }), /minNgram/);
    assert.throws(() => resolveOptions({ models, speculative: { positionCost: -1 } }), /speculative\.positionCost/);
    assert.equal(resolveOptions({ models, speculative: { method: "ngram", positionCost: 0 } }).speculative.positionCost, 0);
  });

  test("a request's speculative must be true or false", async (t) => {
    const pipeline = await createOnnxPipeline({ models: { tiny: ensureTinyModel() } });
    t.after(() => pipeline.close());
    await assert.rejects(pipeline.generate({ modelId: "tiny", prompt: "Hi", speculative: "yes" as unknown as boolean }), pipelineError("INVALID_REQUEST"));
  });
});

