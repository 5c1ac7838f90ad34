import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { GenerateRequest, GenerationEvent } from "@modelnode/core/pipeline";
import { collect, ensureModel, eventually, outcome, pipelineError, streamed, tinyPipeline } from "./helpers.js";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventEmitter } from "node:events";
import type { Worker } from "node:worker_threads";
import { createOnnxPipeline, OnnxPipeline } from "../src/index.js";
import type { ToEngine } from "../src/messages/engine-protocol.js";
import { silentLogger } from "../src/shared/logger.js";
import { resolveOptions } from "../src/main/options.js";

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
    // The engine runs ahead of the consumer; cancellation stops it at its next step.
    assert.ok(done.result.usage.completionTokens < 200, `ran ${done.result.usage.completionTokens} tokens after abort`);
    assert.equal(events.flatMap((e) => (e.kind === "text" ? [e.text] : [])).join(""), done.result.text);
    const stats = pipeline.stats();
    assert.equal(stats.generationsInFlight, 0);
    assert.equal(stats.cacheBytes, 0);
    assert.equal(stats.queuedGenerations, 0);
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
    // Running: encoded (tokenizer thread), admitted and generating.
    await eventually(() => pipeline.stats().tokensGenerated > 0, "the generation to run");
    await pipeline.close();
    const result = await running;
    assert.equal(result.finishReason, "cancelled");
    await assert.rejects(pipeline.generate(request), pipelineError("SHUTTING_DOWN"));
    assert.equal(pipeline.stats().cacheBytes, 0);
  });
});

describe("continuous batching", () => {
  test("concurrent streams run in one batch, and each gets the greedy text it gets alone", async (t) => {
    const pipeline = await tinyPipeline();
    t.after(() => pipeline.close());
    const prompts = Array.from({ length: 8 }, (_, i) => `prompt number ${i}: ${"and so on ".repeat(i * 3)}`);
    const alone = [];
    for (const prompt of prompts) alone.push(await pipeline.generate({ ...request, prompt, maxTokens: 12 + (prompts.indexOf(prompt) % 3) * 5 }));
    let widest = 0;
    const order: number[] = [];
    const before = pipeline.stats();
    const together = await Promise.all(
      prompts.map(async (prompt, i) => {
        const out = [];
        for await (const event of pipeline.stream({ ...request, prompt, maxTokens: 12 + (i % 3) * 5 })) {
          widest = Math.max(widest, pipeline.stats().batchSize);
          if (event.kind === "text") order.push(i);
          out.push(event);
        }
        return (out.at(-1) as Extract<GenerationEvent, { kind: "done" }>).result;
      }),
    );
    assert.deepEqual(together.map(outcome), alone.map(outcome));
    assert.ok(widest >= 4, `the decode batch held at most ${widest} rows`);
    const after = pipeline.stats();
    const [rows, runs] = [after.decodeRows - before.decodeRows, after.decodeRuns - before.decodeRuns];
    assert.ok(rows / runs > 4, `${rows} rows in ${runs} decode runs`);
    // Batched, not one after the other: every stream has produced text before any is half done.
    assert.deepEqual(new Set(order.slice(0, 30)), new Set(prompts.map((_, i) => i)), `order ${order}`);
  });

  test("each row keeps its own sampling settings, stop strings and max_tokens inside a batch", async (t) => {
    const pipeline = await tinyPipeline();
    t.after(() => pipeline.close());
    const requests: GenerateRequest[] = [
      { ...request, maxTokens: 20 },
      { ...request, prompt: "Sampled", temperature: 0.9, topK: 40, seed: 5, maxTokens: 20 },
      { ...request, prompt: "Nucleus", temperature: 1.3, topP: 0.8, seed: 9, maxTokens: 20 },
      { ...request, prompt: "Short", maxTokens: 3 },
      { ...request, prompt: "Hot", temperature: 2, seed: 11, maxTokens: 20 },
    ];
    const alone = [];
    for (const r of requests) alone.push(await pipeline.generate(r));
    // The stop string: a piece of the greedy text, which must then end early.
    const stop = alone[0].text.slice(8, 12);
    requests.push({ ...request, stop: [stop], maxTokens: 20 });
    const stopped = await pipeline.generate(requests[5]);
    assert.equal(stopped.finishReason, "stop");
    assert.equal(stopped.text, alone[0].text.slice(0, alone[0].text.indexOf(stop)));
    const together = await Promise.all(requests.map((r) => pipeline.generate(r)));
    assert.deepEqual(together.map(outcome), [...alone, stopped].map(outcome));
    assert.equal(together[3].usage.completionTokens, 3);
    assert.notEqual(together[1].text, together[0].text);
  });

  test("cancelling one stream in a batch ends it; the others are unaffected", async (t) => {
    const pipeline = await tinyPipeline();
    t.after(() => pipeline.close());
    const others = ["first other", "second other", "third other"];
    const alone = [];
    for (const prompt of others) alone.push(await pipeline.generate({ ...request, prompt, maxTokens: 40 }));
    const controller = new AbortController();
    const cancelled = (async () => {
      let pieces = 0;
      for await (const event of pipeline.stream({ ...request, maxTokens: 400, signal: controller.signal })) {
        if (event.kind === "text" && ++pieces === 5) controller.abort();
        if (event.kind === "done") return event.result;
      }
    })();
    const together = await Promise.all(others.map((prompt) => pipeline.generate({ ...request, prompt, maxTokens: 40 })));
    assert.equal((await cancelled)!.finishReason, "cancelled");
    assert.deepEqual(together.map(outcome), alone.map(outcome));
    await eventually(() => pipeline.stats().generationsInFlight === 0 && pipeline.stats().cacheBytes === 0, "everything to be freed");
  });

  test("legacy steps are batched with generations and answer what they answer alone", async (t) => {
    const pipeline = await tinyPipeline();
    t.after(() => pipeline.close());
    const walk = async (sessionId: string, prompt: string, steps: number) => {
      let result = await pipeline.step({ sessionId, modelId: "tiny", step: 0, inputIds: prompt });
      const ids = [result.nextTokenId];
      for (let step = 1; step < steps; step++) {
        result = await pipeline.step({ sessionId, modelId: "tiny", step, inputIds: [result.nextTokenId] });
        ids.push(result.nextTokenId);
      }
      return ids;
    };
    const prompts = ["Hello, world!", "Once upon a time", "a"];
    const alone = [];
    for (const [i, prompt] of prompts.entries()) alone.push(await walk(`alone-${i}`, prompt, 10));
    const background = pipeline.generate({ ...request, maxTokens: 60 });
    const before = pipeline.stats();
    const together = await Promise.all(prompts.map((prompt, i) => walk(`together-${i}`, prompt, 10)));
    assert.deepEqual(together, alone);
    const after = pipeline.stats();
    const rowsPerRun = (after.prefillRows - before.prefillRows) / (after.prefillRuns - before.prefillRuns);
    assert.ok(rowsPerRun > 1.5, `steps ran ${rowsPerRun.toFixed(2)} rows per run: not batched`);
    assert.equal((await background).usage.completionTokens, 60);
  });

  test("a long prompt is fed in chunks between the running streams' steps, not before or after them", async (t) => {
    const pipeline = await tinyPipeline({ prefillChunkTokens: 32 });
    t.after(() => pipeline.close());
    const order: string[] = [];
    const running = (async () => {
      for await (const event of pipeline.stream({ ...request, maxTokens: 300 })) if (event.kind === "text") order.push("running");
    })();
    await eventually(() => order.length >= 3, "the first stream to run");
    const long = "The quick brown fox jumps over the lazy dog. ".repeat(30); // ~300 tokens: 10 chunks
    let first = -1;
    for await (const event of pipeline.stream({ ...request, prompt: long, maxTokens: 5 })) {
      if (event.kind === "text" && first < 0) first = order.length;
      if (event.kind === "text") order.push("long");
    }
    const before = order.slice(0, first).filter((kind) => kind === "running").length;
    assert.ok(before >= 3 + 8, `the running stream made ${before - 3} steps while the long prompt was prefilled`);
    await running;
  });
});

describe("a reader slower than the engine", () => {
  test("a stream nobody reads is held after a backlog of pieces, others go on, and it resumes with the text it gets alone", async (t) => {
    const pipeline = await tinyPipeline();
    t.after(() => pipeline.close());
    const alone = await pipeline.generate({ ...request, maxTokens: 300 });
    const stalled = pipeline.stream({ ...request, maxTokens: 300 })[Symbol.asyncIterator]();
    const first = await stalled.next();
    assert.equal(first.done, false);
    // While nobody reads `stalled`, another stream runs to its end beside it.
    const other = await pipeline.generate({ ...request, prompt: "another one", maxTokens: 100 });
    assert.equal(other.usage.completionTokens, 100);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const heldAt = pipeline.stats().tokensGenerated;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(pipeline.stats().tokensGenerated, heldAt, "the unread stream stopped advancing");
    assert.ok(heldAt - alone.usage.completionTokens - 100 < 80, `ran ${heldAt - alone.usage.completionTokens - 100} tokens ahead of its reader`);
    // Reading again resumes it; the masked columns of its pause change nothing.
    const pieces = [(first.value as Extract<GenerationEvent, { kind: "text" }>).text];
    for (let next = await stalled.next(); !next.done; next = await stalled.next()) {
      if (next.value.kind === "text") pieces.push(next.value.text);
      else assert.deepEqual(outcome(next.value.result), outcome(alone));
    }
    assert.equal(pieces.join(""), alone.text);
    // A held stream that is given up on is cancelled and freed like any other.
    const abandoned = pipeline.stream({ ...request, maxTokens: 300 })[Symbol.asyncIterator]();
    await abandoned.next();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await abandoned.return!();
    await eventually(() => pipeline.stats().generationsInFlight === 0 && pipeline.stats().cacheBytes === 0, "the held stream to be freed");
  });
});

describe("admission", () => {
  test("each result says how long it waited for a place in a batch (timings.queuedMs)", async (t) => {
    const pipeline = await tinyPipeline({ maxBatchSize: 1 });
    t.after(() => pipeline.close());
    const [first, second] = await Promise.all([
      pipeline.generate({ ...request, maxTokens: 30 }),
      pipeline.generate({ ...request, prompt: "waits its turn", maxTokens: 5 }),
    ]);
    assert.equal(typeof first.timings?.queuedMs, "number");
    assert.ok(first.timings!.queuedMs! < 50, `admitted at once: ${first.timings!.queuedMs} ms`);
    // With one row per batch, the second waited for the whole first generation.
    assert.ok(second.timings!.queuedMs! > first.timings!.queuedMs!, `${second.timings!.queuedMs} ms > ${first.timings!.queuedMs} ms`);
  });

  test("past the batch cap and a full queue, a request gets BUSY; the queue drains in order", async (t) => {
    const pipeline = await tinyPipeline({ maxBatchSize: 1, maxQueuedGenerations: 1 });
    t.after(() => pipeline.close());
    const first = pipeline.generate({ ...request, maxTokens: 30 });
    const second = pipeline.generate({ ...request, maxTokens: 5 });
    await assert.rejects(pipeline.generate(request), pipelineError("BUSY"));
    assert.equal(pipeline.stats().generationsInFlight, 1);
    assert.equal(pipeline.stats().queuedGenerations, 1);
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.usage.completionTokens, 30);
    assert.equal(b.usage.completionTokens, 5);
    assert.equal(pipeline.stats().queuedGenerations, 0);
  });

  test("a queued request that is aborted leaves the queue as cancelled", async (t) => {
    const pipeline = await tinyPipeline({ maxBatchSize: 1 });
    t.after(() => pipeline.close());
    const first = pipeline.generate({ ...request, maxTokens: 200 });
    const controller = new AbortController();
    const queued = collect(pipeline.stream({ ...request, signal: controller.signal }));
    await eventually(() => pipeline.stats().queuedGenerations === 1, "the second request to wait");
    controller.abort();
    const events = await queued;
    assert.deepEqual(events.map((e) => e.kind), ["done"]);
    assert.equal((events[0] as Extract<GenerationEvent, { kind: "done" }>).result.finishReason, "cancelled");
    assert.equal(pipeline.stats().queuedGenerations, 0);
    assert.equal((await first).finishReason, "length");
  });

  test("cache memory decides who runs: what does not fit waits, and starts when a generation ends", async (t) => {
    const perToken = 512; // the tiny model's cache bytes per token
    // Each request reserves (4 prompt + 60) tokens; the budget holds two.
    const pipeline = await tinyPipeline({ maxCacheBytes: 2 * 64 * perToken + 100 });
    t.after(() => pipeline.close());
    let mostRunning = 0;
    let sawWaiting = false;
    const all = Promise.all(
      [0, 1, 2].map(async (i) => {
        const { result } = await streamed(
          (async function* () {
            for await (const event of pipeline.stream({ ...request, maxTokens: 60 - i })) {
              const stats = pipeline.stats();
              mostRunning = Math.max(mostRunning, stats.generationsInFlight);
              sawWaiting ||= stats.queuedGenerations > 0;
              assert.ok(stats.cacheBytes <= 2 * 64 * perToken + 100, `cache ${stats.cacheBytes} over the budget`);
              yield event;
            }
          })(),
        );
        return result;
      }),
    );
    const results = await all;
    assert.equal(mostRunning, 2);
    assert.ok(sawWaiting, "the third request waited for memory");
    assert.deepEqual(results.map((r) => r.usage.completionTokens), [60, 59, 58]);
  });
});

describe("the engine thread", () => {
  test("the caller's event loop stays free while the engine is saturated (a deliberately slow model)", async (t) => {
    const pipeline = await createOnnxPipeline({ models: { slow: ensureModel("slow-tiny-gpt2") } });
    t.after(() => pipeline.close());
    // A run on the caller's thread would delay its event loop by a whole run (~gap ms) in every
    // attempt; a loaded machine can deschedule the thread for as long once, so it gets 3 tries.
    const attempts: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const gaps: number[] = [];
      const delay = monitorEventLoopDelay({ resolution: 1 });
      let last = performance.now();
      const generations = [0, 1, 2].map((i) => pipeline.generate({ modelId: "slow", prompt: `slow ${attempt} ${i}`, maxTokens: 6 }));
      delay.enable();
      for await (const event of pipeline.stream({ modelId: "slow", prompt: `measured ${attempt}`, maxTokens: 6 })) {
        const now = performance.now();
        if (event.kind === "text") gaps.push(now - last);
        last = now;
      }
      delay.disable();
      await Promise.all(generations);
      const gap = gaps.sort((a, b) => a - b)[Math.floor(gaps.length / 2)];
      const worst = delay.max / 1e6;
      // Every run of this model takes ~gap ms; on the caller's thread, none of it shows.
      assert.ok(gap >= 20, `the slow model is not slow here (median gap ${gap.toFixed(1)} ms)`);
      if (worst < gap / 2) return;
      attempts.push(`event loop delay ${worst.toFixed(1)} ms against runs of ${gap.toFixed(1)} ms`);
    }
    assert.fail(attempts.join("; "));
  });

  test("process.exit in the middle of a model run exits with the process's own code (no abort)", (t) => {
    // Without the run guard, onnxruntime-node aborts the process (134) when the engine thread is
    // terminated inside a run.
    const script = `
      const { createOnnxPipeline } = await import(${JSON.stringify(new URL("../src/index.js", import.meta.url).href)});
      const pipeline = await createOnnxPipeline({ models: { slow: ${JSON.stringify(ensureModel("slow-tiny-gpt2"))} } });
      for (let i = 0; i < 4; i++) pipeline.generate({ modelId: "slow", prompt: "exit " + i, maxTokens: 500 });
      setTimeout(() => process.exit(3), 400);`;
    const dir = mkdtempSync(join(tmpdir(), "modelnode-exit-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "exit.mjs"), script);
    for (let attempt = 0; attempt < 3; attempt++) {
      const child = spawnSync(process.execPath, [join(dir, "exit.mjs")], { encoding: "utf8", timeout: 60_000 });
      assert.equal(child.status, 3, `attempt ${attempt}: exit ${child.status} (${child.signal ?? "no signal"}) ${child.stderr}`);
    }
  });

  test("if the engine thread dies, requests in flight fail, and a new engine serves the next ones", async () => {
    // A stand-in for the worker (terminating a real one in the middle of an ONNX Runtime run
    // aborts the whole process, so the death is simulated): it answers what it is sent.
    class FakeWorker extends EventEmitter {
      received: ToEngine[] = [];
      postMessage(message: ToEngine) {
        this.received.push(message);
        if (message.type === "close") setImmediate(() => this.emit("message", { type: "closed" }));
      }
      ref() {}
      unref() {}
      async terminate() {
        return 0;
      }
    }
    const first = new FakeWorker();
    const second = new FakeWorker();
    const logged: string[] = [];
    // The tokenizer thread is real: requests are encoded before they reach the engine.
    const options = resolveOptions({ models: { tiny: ensureModel("tiny-gpt2") }, logger: { ...silentLogger, error: (_, msg) => logged.push(msg ?? ""), info: (_, msg) => logged.push(msg ?? "") } });
    const models = [{ id: "tiny", contextLength: 1024, vocabSize: 50257 }];
    let started!: () => void;
    const restarted = new Promise<void>((resolve) => (started = resolve));
    const engine = {
      worker: first as unknown as Worker,
      runFlags: new Int32Array(2),
      models,
      restart: async () => {
        await restarted;
        return { worker: second as unknown as Worker, runFlags: new Int32Array(2), models, restart: async () => engine };
      },
    };
    const pipeline = new OnnxPipeline(options, models, engine);
    await pipeline.warm();
    const running = pipeline.generate({ ...request, maxTokens: 500 });
    await eventually(() => first.received.length > 0, "the generate message");
    assert.equal(first.received[0].type, "generate");
    first.emit("error", new Error("boom"));
    await assert.rejects(running, /model engine failed: boom/);
    await assert.rejects(pipeline.generate(request), pipelineError("BUSY")); // while the new engine starts
    started();
    await eventually(() => logged.includes("model engine restarted"), "the restart");
    const next = pipeline.generate({ ...request, maxTokens: 2 });
    await eventually(() => second.received.some((message) => message.type === "generate"), "the second engine's generate message");
    const sent = second.received.at(-1) as Extract<ToEngine, { type: "generate" }>;
    second.emit("message", { type: "events", events: [["done", sent.id, { text: "ok", finishReason: "length", usage: { promptTokens: 4, completionTokens: 2 } }]], stats: pipeline.stats() });
    assert.equal((await next).text, "ok");
    assert.ok(logged.some((msg) => msg.includes("died")));
    await pipeline.close();
  });
});
