import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { OnnxPipeline } from "../src/index.js";
import { eventually, pipelineError, tinyPipeline } from "./helpers.js";

const step = (sessionId: string, n: number, inputIds: number[] | string, modelId = "tiny") => ({ sessionId, modelId, step: n, inputIds });

describe("step API", () => {
  let pipeline: OnnxPipeline;
  before(async () => {
    pipeline = await tinyPipeline();
  });
  after(() => pipeline.close());

  test("steps continue a session with its cache and match greedy generation", async () => {
    const first = await pipeline.step(step("a", 0, "The quick brown fox"));
    assert.deepEqual(first.inputIds, [464, 2068, 7586, 21831]);
    assert.equal(first.sequenceLength, 4);
    const pieces = [first.nextTokenText];
    let last = first;
    for (let n = 1; n <= 5; n++) {
      last = await pipeline.step(step("a", n, [last.nextTokenId]));
      assert.equal(last.step, n);
      assert.equal(last.sequenceLength, 4 + n);
      assert.equal(last.isEos, false);
      pieces.push(last.nextTokenText);
    }
    // Feeding back each greedy token is what greedy generation does internally.
    const greedy = await pipeline.generate({ modelId: "tiny", prompt: "The quick brown fox", maxTokens: 6 });
    assert.equal(pieces.join(""), greedy.text);
    assert.equal(pipeline.stats().activeSessions, 1);
    assert.ok(pipeline.stats().cacheBytes > 0);
    assert.equal(pipeline.closeSession("a"), true);
    assert.equal(pipeline.closeSession("a"), false);
    await eventually(() => pipeline.stats().activeSessions === 0 && pipeline.stats().cacheBytes === 0, "the session's cache to be freed");
  });

  test("unknown session, out-of-order step and bad tokens are refused with their codes", async () => {
    await assert.rejects(pipeline.step(step("missing", 1, [1])), pipelineError("SESSION_NOT_FOUND"));
    await pipeline.step(step("b", 0, [15496, 995]));
    await assert.rejects(pipeline.step(step("b", 2, [11])), pipelineError("STEP_OUT_OF_ORDER"));
    await assert.rejects(pipeline.step(step("b", 0 + 0, [50257])), pipelineError("INVALID_TOKENS"));
    await assert.rejects(pipeline.step(step("c", 0, [-1])), pipelineError("INVALID_TOKENS"));
    await assert.rejects(pipeline.step(step("c", 0, [1.5])), pipelineError("INVALID_TOKENS"));
    await assert.rejects(pipeline.step(step("c", 0, [])), pipelineError("INVALID_TOKENS"));
    await assert.rejects(pipeline.step(step("c", 0, [1], "nope")), pipelineError("MODEL_NOT_FOUND"));
    // Refused steps (a restart or a continuation) leave the session as it was.
    await assert.rejects(pipeline.step(step("b", 1, [70000])), pipelineError("INVALID_TOKENS"));
    assert.equal((await pipeline.step(step("b", 1, [11]))).sequenceLength, 3);
    pipeline.closeSession("b");
  });

  test("a step past the context length is refused and the session stays usable", async () => {
    const prompt = Array.from({ length: 1020 }, (_, i) => (i * 37) % 50000);
    await pipeline.step(step("long", 0, prompt));
    await assert.rejects(pipeline.step(step("long", 1, [1, 2, 3, 4, 5])), pipelineError("CONTEXT_LENGTH_EXCEEDED"));
    const ok = await pipeline.step(step("long", 1, [1, 2, 3, 4]));
    assert.equal(ok.sequenceLength, 1024);
    await assert.rejects(pipeline.step(step("long", 2, [1])), pipelineError("CONTEXT_LENGTH_EXCEEDED"));
    await assert.rejects(pipeline.step(step("long2", 0, Array(1025).fill(1))), pipelineError("CONTEXT_LENGTH_EXCEEDED"));
    pipeline.closeSession("long");
  });

  test("a text step cancelled while it is encoded is CANCELLED and runs nothing; unknown models are refused before encoding", async () => {
    const before = pipeline.stats().prefillRuns;
    await assert.rejects(pipeline.step({ ...step("cancelled-early", 0, "some text to encode"), signal: AbortSignal.abort() }), pipelineError("CANCELLED"));
    await assert.rejects(pipeline.step(step("cancelled-early", 1, [11])), pipelineError("SESSION_NOT_FOUND"));
    assert.equal(pipeline.stats().prefillRuns, before);
    await assert.rejects(pipeline.step(step("nowhere", 0, "text", "no-such-model")), pipelineError("MODEL_NOT_FOUND"));
  });

  test("step 0 on an existing session restarts it", async () => {
    const a = await pipeline.step(step("r", 0, "Hello world"));
    await pipeline.step(step("r", 1, [a.nextTokenId]));
    const restarted = await pipeline.step(step("r", 0, "Hello world"));
    assert.equal(restarted.sequenceLength, 2);
    assert.equal(restarted.nextTokenId, a.nextTokenId);
    await assert.rejects(pipeline.step(step("r", 2, [1])), pipelineError("STEP_OUT_OF_ORDER"));
    pipeline.closeSession("r");
  });

  test("a second step on a session while one is running is refused", async () => {
    await pipeline.step(step("busy", 0, [1, 2, 3]));
    // A long input (several prefill chunks) keeps step 1 running while step 2 arrives.
    const running = pipeline.step(step("busy", 1, Array.from({ length: 900 }, (_, i) => 100 + i)));
    await assert.rejects(pipeline.step(step("busy", 2, [5])), pipelineError("SESSION_BUSY"));
    await running;
    pipeline.closeSession("busy");
  });
});

describe("step session limits", () => {
  test("idle sessions expire and free their cache", async (t) => {
    const pipeline = await tinyPipeline({ sessionIdleMs: 40 });
    t.after(() => pipeline.close());
    await pipeline.step(step("idle", 0, "Hello"));
    assert.equal(pipeline.stats().activeSessions, 1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(pipeline.stats().activeSessions, 0);
    assert.equal(pipeline.stats().cacheBytes, 0);
    assert.equal(pipeline.stats().sessionsExpired, 1);
    await assert.rejects(pipeline.step(step("idle", 1, [1])), pipelineError("SESSION_NOT_FOUND"));
  });

  test("at the session cap the least recently used idle session is evicted", async (t) => {
    const pipeline = await tinyPipeline({ maxSessions: 2 });
    t.after(() => pipeline.close());
    await pipeline.step(step("s1", 0, "one"));
    await pipeline.step(step("s2", 0, "two"));
    await pipeline.step(step("s1", 1, [11])); // s1 is now the most recently used
    await pipeline.step(step("s3", 0, "three"));
    assert.equal(pipeline.stats().activeSessions, 2);
    assert.equal(pipeline.stats().sessionsEvicted, 1);
    await assert.rejects(pipeline.step(step("s2", 1, [11])), pipelineError("SESSION_NOT_FOUND"));
    await pipeline.step(step("s1", 2, [11]));
  });

  test("when every session is mid-step, a new one gets TOO_MANY_SESSIONS", async (t) => {
    const pipeline = await tinyPipeline({ maxSessions: 1 });
    t.after(() => pipeline.close());
    const running = pipeline.step(step("only", 0, Array.from({ length: 900 }, (_, i) => 100 + i))); // several prefill chunks
    await assert.rejects(pipeline.step(step("other", 0, [5, 6])), pipelineError("TOO_MANY_SESSIONS"));
    await running;
  });

  test("the cache byte limit evicts idle sessions to make room", async (t) => {
    const perToken = 512; // the tiny model's cache: 2 layers × (key + value) × 4 heads × 8 dims × 4 bytes
    // Sessions alone: no cached prefix blocks beside them (prefix-cache-pipeline.test.ts has those).
    const pipeline = await tinyPipeline({ maxCacheBytes: 600 * perToken, prefixCache: false });
    t.after(() => pipeline.close());
    const tokens = (n: number) => Array.from({ length: n }, (_, i) => i + 100);
    await pipeline.step(step("big1", 0, tokens(400)));
    assert.equal(pipeline.stats().cacheBytes, 400 * perToken);
    await pipeline.step(step("big2", 0, tokens(300)));
    assert.equal(pipeline.stats().activeSessions, 1);
    assert.equal(pipeline.stats().cacheBytes, 300 * perToken);
    await assert.rejects(pipeline.step(step("big1", 1, [1])), pipelineError("SESSION_NOT_FOUND"));
    // A session cannot grow past the limit on its own.
    await assert.rejects(pipeline.step(step("big2", 1, tokens(301))), pipelineError("TOO_MANY_SESSIONS"));
    await pipeline.step(step("big2", 1, tokens(300)));
    assert.equal(pipeline.stats().cacheBytes, 600 * perToken);
  });
});
