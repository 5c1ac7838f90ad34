import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { GenerationEvent } from "@modelnode/core";
import { collect, pipelineError, tinyPipeline } from "./helpers.js";

const request = { modelId: "tiny", prompt: "The quick brown fox" };

describe("cancellation", () => {
  test("aborting a stream ends it within a step with finish_reason cancelled and frees its cache", async (t) => {
    const pipeline = await tinyPipeline();
    t.after(() => pipeline.close());
    const controller = new AbortController();
    const events: GenerationEvent[] = [];
    let sawCache = false;
    for await (const event of pipeline.stream({ ...request, maxTokens: 200, signal: controller.signal })) {
      events.push(event);
      if (event.kind === "text" && events.length === 3) {
        const stats = pipeline.stats();
        sawCache = stats.cacheBytes > 0 && stats.generationsInFlight === 1;
        controller.abort();
      }
    }
    assert.ok(sawCache, "while running, the generation held a cache");
    const done = events.at(-1)!;
    assert.equal(done.kind, "done");
    if (done.kind !== "done") return;
    assert.equal(done.result.finishReason, "cancelled");
    // The abort came right after the 3rd piece; at most the piece of one more step may follow.
    assert.ok(done.result.usage.completionTokens <= 4, `ran ${done.result.usage.completionTokens} tokens after abort`);
    assert.equal(events.flatMap((e) => (e.kind === "text" ? [e.text] : [])).join(""), done.result.text);
    const stats = pipeline.stats();
    assert.equal(stats.generationsInFlight, 0);
    assert.equal(stats.cacheBytes, 0);
    assert.equal(stats.queued, 0);
  });

  test("a request aborted before it starts does no work", async (t) => {
    const pipeline = await tinyPipeline();
    t.after(() => pipeline.close());
    const result = await pipeline.generate({ ...request, signal: AbortSignal.abort() });
    assert.equal(result.finishReason, "cancelled");
    assert.equal(result.usage.completionTokens, 0);
    assert.equal(pipeline.stats().tokensGenerated, 0);
  });

  test("close() cancels running generations and refuses new work", async () => {
    const pipeline = await tinyPipeline();
    const running = pipeline.generate({ ...request, maxTokens: 500 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await pipeline.close();
    const result = await running;
    assert.equal(result.finishReason, "cancelled");
    await assert.rejects(pipeline.generate(request), pipelineError("SHUTTING_DOWN"));
    assert.equal(pipeline.stats().cacheBytes, 0);
  });
});

describe("sharing the CPU", () => {
  test("concurrent generations advance step by step (round-robin), not one after the other", async (t) => {
    const pipeline = await tinyPipeline({ maxConcurrentGenerations: 3 });
    t.after(() => pipeline.close());
    const order: number[] = [];
    const consume = async (index: number) => {
      for await (const event of pipeline.stream({ ...request, prompt: `prompt number ${index}`, maxTokens: 12 })) {
        if (event.kind === "text") order.push(index);
      }
    };
    await Promise.all([0, 1, 2].map(consume));
    // Round-robin: every generation has produced text before any of them is half done.
    const firstHalf = order.slice(0, Math.floor(order.length / 2));
    assert.deepEqual(new Set(firstHalf), new Set([0, 1, 2]), `order ${order}`);
    // Concurrency does not change greedy results.
    const alone = await pipeline.generate({ ...request, prompt: "prompt number 1", maxTokens: 12 });
    const together = await Promise.all([0, 1, 2].map((i) => pipeline.generate({ ...request, prompt: `prompt number ${i}`, maxTokens: 12 })));
    assert.equal(together[1].text, alone.text);
  });

  test("past the running and queued limits, a request gets BUSY; the queue drains in order", async (t) => {
    const pipeline = await tinyPipeline({ maxConcurrentGenerations: 1, maxQueuedGenerations: 1 });
    t.after(() => pipeline.close());
    const first = pipeline.generate({ ...request, maxTokens: 30 });
    const second = pipeline.generate({ ...request, maxTokens: 5 });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(pipeline.stats().generationsInFlight, 1);
    assert.equal(pipeline.stats().queued, 1);
    await assert.rejects(pipeline.generate(request), pipelineError("BUSY"));
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.usage.completionTokens, 30);
    assert.equal(b.usage.completionTokens, 5);
    assert.equal(pipeline.stats().queued, 0);
  });

  test("a queued request that is aborted leaves the queue as cancelled", async (t) => {
    const pipeline = await tinyPipeline({ maxConcurrentGenerations: 1 });
    t.after(() => pipeline.close());
    const first = pipeline.generate({ ...request, maxTokens: 20 });
    const controller = new AbortController();
    const queued = collect(pipeline.stream({ ...request, signal: controller.signal }));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(pipeline.stats().queued, 1);
    controller.abort();
    const events = await queued;
    assert.deepEqual(events.map((e) => e.kind), ["done"]);
    assert.equal((events[0] as Extract<GenerationEvent, { kind: "done" }>).result.finishReason, "cancelled");
    assert.equal(pipeline.stats().queued, 0);
    assert.equal((await first).finishReason, "length");
  });
});
