import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { GenerationEvent } from "@modelnode/core/pipeline";
import type { OnnxPipeline } from "../src/index.js";
import { collect, pipelineError, tinyPipeline } from "./helpers.js";

describe("generation", () => {
  let pipeline: OnnxPipeline;
  before(async () => {
    pipeline = await tinyPipeline({ maxTokensCeiling: 40 });
  });
  after(() => pipeline.close());

  const base = { modelId: "tiny", prompt: "The quick brown fox" };

  test("greedy (the default, temperature 0) is deterministic and depends on the prompt", async () => {
    const a = await pipeline.generate({ ...base, maxTokens: 12 });
    const b = await pipeline.generate({ ...base, maxTokens: 12, temperature: 0 });
    const other = await pipeline.generate({ ...base, prompt: "Once upon a time", maxTokens: 12 });
    assert.equal(a.text, b.text);
    assert.ok(a.text.length > 0);
    assert.notEqual(a.text, other.text);
    assert.deepEqual(a.usage, { promptTokens: 4, completionTokens: 12 });
    assert.equal(a.finishReason, "length");
  });

  test("sampling with a seed is reproducible; different seeds give different text", async () => {
    const sampled = (seed: number) => pipeline.generate({ ...base, maxTokens: 16, temperature: 1, topK: 50, topP: 0.95, seed });
    const first = await sampled(7);
    const again = await sampled(7);
    assert.equal(first.text, again.text);
    const texts = new Set([first.text, (await sampled(8)).text, (await sampled(9)).text]);
    assert.equal(texts.size, 3, "three seeds gave repeated texts");
    const greedy = await pipeline.generate({ ...base, maxTokens: 16 });
    assert.notEqual(first.text, greedy.text);
  });

  test("topK 1 is greedy whatever the temperature and seed", async () => {
    const greedy = await pipeline.generate({ ...base, maxTokens: 10 });
    const topOne = await pipeline.generate({ ...base, maxTokens: 10, temperature: 2, topK: 1, seed: 3 });
    assert.equal(topOne.text, greedy.text);
  });

  test("maxTokens ends generation with finish_reason length and is clamped to the ceiling", async () => {
    const short = await pipeline.generate({ ...base, maxTokens: 3 });
    assert.equal(short.finishReason, "length");
    assert.equal(short.usage.completionTokens, 3);
    const clamped = await pipeline.generate({ ...base, maxTokens: 10_000 });
    assert.equal(clamped.usage.completionTokens, 40);
    const byDefault = await pipeline.generate(base);
    assert.equal(byDefault.usage.completionTokens, 16);
  });

  test("a stop sequence ends generation with finish_reason stop and is not returned", async () => {
    const free = await pipeline.generate({ ...base, maxTokens: 20 });
    // Take a stop string from the middle of the free-running text, spanning a token boundary.
    const stop = free.text.slice(10, 16);
    const stopped = await pipeline.generate({ ...base, maxTokens: 20, stop: [stop] });
    assert.equal(stopped.finishReason, "stop");
    assert.equal(stopped.text, free.text.slice(0, free.text.indexOf(stop)));
    assert.ok(!stopped.text.includes(stop));
    assert.ok(stopped.usage.completionTokens < 20);

    const neverMatches = await pipeline.generate({ ...base, maxTokens: 8, stop: ["\u0000never\u0000"] });
    assert.equal(neverMatches.finishReason, "length");
  });

  test("streamed pieces join to the final text, also when a stop string is held back", async () => {
    const free = await pipeline.generate({ ...base, maxTokens: 24 });
    for (const stop of [undefined, [free.text.slice(60, 67)], [free.text.slice(45, 49), "zzzz"]]) {
      const events = await collect(pipeline.stream({ ...base, maxTokens: 24, stop }));
      const done = events.at(-1) as Extract<GenerationEvent, { kind: "done" }>;
      assert.equal(done.kind, "done");
      assert.equal(events.filter((e) => e.kind === "done").length, 1);
      const pieces = events.filter((e) => e.kind === "text").map((e) => (e as { text: string }).text);
      assert.ok(pieces.length > 1, "text came in one piece");
      assert.equal(pieces.join(""), done.result.text);
      for (const s of stop ?? []) assert.ok(!pieces.join("").includes(s));
    }
  });

  test("a prompt that fills the context is refused; generation stops at the context length", async () => {
    const long = "hello ".repeat(1100);
    await assert.rejects(pipeline.generate({ ...base, prompt: long }), pipelineError("CONTEXT_LENGTH_EXCEEDED"));
    // 1020 prompt tokens leave room for 4 generated ones in a 1024-token context.
    const nearlyFull = " hello".repeat(1020);
    const result = await pipeline.generate({ ...base, prompt: nearlyFull, maxTokens: 30 });
    assert.equal(result.usage.promptTokens, 1020);
    assert.equal(result.usage.completionTokens, 4);
    assert.equal(result.finishReason, "length");
  });

  test("bad requests fail with clear codes", async () => {
    await assert.rejects(pipeline.generate({ ...base, modelId: "nope" }), pipelineError("MODEL_NOT_FOUND"));
    await assert.rejects(pipeline.generate({ ...base, temperature: -1 }), pipelineError("INVALID_REQUEST"));
    await assert.rejects(pipeline.generate({ ...base, topP: 0 }), pipelineError("INVALID_REQUEST"));
    await assert.rejects(pipeline.generate({ ...base, maxTokens: 0 }), pipelineError("INVALID_REQUEST"));
    await assert.rejects(pipeline.generate({ ...base, stop: [""] }), pipelineError("INVALID_REQUEST"));
    assert.equal(pipeline.stats().generationsInFlight, 0);
  });

  test("an empty prompt starts from the BOS token", async () => {
    const result = await pipeline.generate({ ...base, prompt: "", maxTokens: 4 });
    assert.equal(result.usage.promptTokens, 1);
    assert.equal(result.usage.completionTokens, 4);
  });

  test("listModels describes the bundled model", () => {
    assert.deepEqual(
      pipeline.listModels().map(({ id, contextLength, vocabSize }) => ({ id, contextLength, vocabSize })),
      [{ id: "tiny", contextLength: 1024, vocabSize: 50257 }],
    );
    assert.equal(pipeline.hasModel("tiny"), true);
    assert.equal(pipeline.hasModel("other"), false);
  });
});
