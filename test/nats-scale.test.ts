/**
 * Scale-out over NATS (docs/scale-out.md): a real nats-server on a free port, workers (in this
 * process, or as child processes that a test SIGKILLs) running ContinuingFake, and the gateway
 * pipeline. ContinuingFake continues its context like a greedy model ("w0 … wk-1 " → "wk "), so
 * "the text of an undisturbed run" checks that a resumed generation neither repeats nor skips a
 * piece. A last test runs the real tiny ONNX model (models/tiny-gpt2) in workers it SIGKILLs
 * mid-stream: the gateway resumes from the delivered token ids, so the text is exactly an
 * undisturbed run's.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { NatsPipeline, startWorker, type ModelWorker } from "@modelnode/nats";
import { eventually as waitFor, FakePipeline } from "@modelnode/testing";

const eventually = (check: () => boolean, what = "condition") => waitFor(check, what, 15_000);
import { isCodedError, type GrammarSpec, type ToolSpec } from "@modelnode/core/pipeline";
import { pipelinePlugin } from "@modelnode/core/server";
import { inferencePlugin } from "@modelnode/plugin-inference";
import { header, startTestNode, TestClient } from "@modelnode/testing";
import { natsPipeline } from "@modelnode/nats";
import { ContinuingFake, expectedText, ONNX_WORKER, skipWithoutNats, spawnWorker, startNatsServer, type NatsServer } from "./support/nats.js";

const MODEL = [{ id: "fake", contextLength: 4096, vocabSize: 128, eosTokenIds: [] }];

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once("exit", () => r()));

async function collect(p: NatsPipeline, prompt: string, maxTokens: number, signal?: AbortSignal) {
  const pieces: string[] = [];
  let result: any;
  for await (const e of p.stream({ modelId: "fake", prompt, maxTokens, temperature: 0, signal })) {
    if (e.kind === "text") pieces.push(e.text);
    else result = e.result;
  }
  return { pieces, text: pieces.join(""), result };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return isCodedError(error) ? error.code : `uncoded: ${(error as Error).message}`;
  }
  return "no error";
}

function slowFake(ms: number) {
  const p = new ContinuingFake(MODEL);
  p.tokenDelay = () => new Promise((r) => setTimeout(r, ms));
  return p;
}

describe("NATS scale-out", { skip: skipWithoutNats }, () => {
  let nats: NatsServer;
  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await nats?.stop();
  });

  test("N workers share the load; every text is an undisturbed run's", async () => {
    const pipelines = [slowFake(2), slowFake(2), slowFake(2)];
    const workers = await Promise.all(pipelines.map((pipeline, i) => startWorker({ servers: nats.url, pipeline, name: `share${i}`, maxInFlight: 2 })));
    const gw = await NatsPipeline.connect({ servers: nats.url });
    try {
      assert.deepEqual(gw.listModels().map((m) => m.id), ["fake"]);
      const runs = await Promise.all(Array.from({ length: 12 }, (_, i) => collect(gw, `p${i}`, 10)));
      for (const run of runs) {
        assert.equal(run.text, expectedText(10));
        assert.equal(run.result.text, expectedText(10));
        assert.equal(run.result.usage.completionTokens, 10);
      }
      const served = pipelines.map((p) => p.requests.length);
      assert.ok(served.every((n) => n > 0), `every worker served some: ${served}`);
      assert.equal((await gw.tokenize("fake", "Hi")).ids.length, 2);
      assert.equal(await gw.countTokens("fake", "abc"), 3);
      assert.equal(await gw.countChatTokens("fake", [{ role: "user", content: "Hi" }]), "user: Hi\nassistant: ".length, "counted by a worker's pipeline");
    } finally {
      await gw.close();
      await Promise.all(workers.map((w) => w.close()));
    }
  });

  test("the sampling adjustments reach the worker's pipeline; logprobs come back per piece and in the result", async () => {
    const pipeline = new FakePipeline(MODEL);
    const worker = await startWorker({ servers: nats.url, pipeline, name: "sampling" });
    const gw = await NatsPipeline.connect({ servers: nats.url });
    try {
      const adjustments = { minP: 0.1, presencePenalty: 0.5, frequencyPenalty: -0.5, repetitionPenalty: 1.2, logitBias: { 3: -100 }, logprobs: 1 };
      const events = [];
      for await (const e of gw.stream({ modelId: "fake", prompt: "p", maxTokens: 3, ...adjustments })) events.push(e);
      const { signal: _signal, ...received } = pipeline.requests[0];
      assert.deepEqual({ ...received }, { ...received, ...adjustments }, "every adjustment arrived as sent");
      const pieces = events.filter((e) => e.kind === "text");
      assert.deepEqual(pieces.map((e) => e.kind === "text" && e.logprobs?.map((l) => l.token)), [["w0 "], ["w1 "], ["w2 "]]);
      const done = events.at(-1)!;
      assert.equal(done.kind === "done" && done.result.logprobs?.length, 3);
      const plain = await gw.generate({ modelId: "fake", prompt: "p", maxTokens: 1 });
      assert.equal(plain.logprobs, undefined);
      assert.equal(pipeline.requests[1].logprobs, undefined);
    } finally {
      await gw.close();
      await worker.close();
    }
  });

  test("SIGKILL a worker while streams run: every request completes with the undisturbed text", async () => {
    const children = await Promise.all(["k0", "k1", "k2"].map((n) => spawnWorker(nats.url, n, { NATS_TEST_TOKEN_MS: "15" })));
    const gw = await NatsPipeline.connect({ servers: nats.url, idleMs: 300, requestTimeoutMs: 500 });
    try {
      await eventually(() => gw.workers().length === 3);
      const runs = Array.from({ length: 9 }, (_, i) => collect(gw, `q${i}`, 40));
      await new Promise((r) => setTimeout(r, 250));
      const victim = gw.workers().sort((a, b) => b.inFlight - a.inFlight)[0];
      assert.ok(victim.inFlight > 0);
      children[Number(victim.worker.slice(1))].kill("SIGKILL");
      for (const run of await Promise.all(runs)) {
        assert.equal(run.text, expectedText(40));
        assert.equal(run.result.text, expectedText(40));
        assert.equal(run.result.finishReason, "length");
        assert.equal(run.result.usage.completionTokens, 40);
      }
      assert.ok((gw.stats() as any).workerFailures >= 1, "the gateway noticed the dead worker");
    } finally {
      await gw.close();
      for (const c of children) c.kill("SIGKILL");
      await Promise.all(children.map(exited));
    }
  });

  test("a legacy session survives its worker's death (history replayed, position restored)", async () => {
    const children = await Promise.all(["s0", "s1"].map((n) => spawnWorker(nats.url, n)));
    const gw = await NatsPipeline.connect({ servers: nats.url, stepIdleMs: 300, requestTimeoutMs: 500 });
    const reference = new FakePipeline(MODEL);
    try {
      await eventually(() => gw.workers().length === 2);
      const inputs: (string | number[])[] = ["Hello", [5, 6, 7], "x"];
      for (let step = 0; step < 2; step++) {
        const got = await gw.step({ sessionId: "sess", modelId: "fake", step, inputIds: inputs[step] });
        const want = await reference.step({ sessionId: "sess", modelId: "fake", step, inputIds: inputs[step] });
        assert.deepEqual(got, want);
      }
      const pinned = gw.pinnedWorker("sess")!;
      children[Number(pinned.slice(1))].kill("SIGKILL");
      const got = await gw.step({ sessionId: "sess", modelId: "fake", step: 2, inputIds: inputs[2] });
      const want = await reference.step({ sessionId: "sess", modelId: "fake", step: 2, inputIds: inputs[2] });
      assert.deepEqual(got, want, "same next token and sequence length as the old worker would have given");
      assert.notEqual(gw.pinnedWorker("sess"), pinned);
      assert.equal(await codeOf(gw.step({ sessionId: "sess", modelId: "fake", step: 5, inputIds: "y" })), "STEP_OUT_OF_ORDER");
      assert.equal(await codeOf(gw.step({ sessionId: "nope", modelId: "fake", step: 1, inputIds: "y" })), "SESSION_NOT_FOUND");
      assert.equal(gw.closeSession("sess"), true);
    } finally {
      await gw.close();
      for (const c of children) c.kill("SIGKILL");
      await Promise.all(children.map(exited));
    }
  });

  test("a worker SIGKILLed during a step: its missed heartbeats end the wait, the step completes on another worker well before stepIdleMs", async () => {
    const stepIdleMs = 20_000;
    // The first worker's steps after the first take 10 s, so that it dies mid-step; the second's are quick.
    const slow = await spawnWorker(nats.url, "slowstep0", { NATS_TEST_STEP_MS: "10000" });
    const children = [slow];
    const gw = await NatsPipeline.connect({ servers: nats.url, stepIdleMs, requestTimeoutMs: 500 });
    const reference = new FakePipeline(MODEL);
    try {
      await eventually(() => gw.workers().length === 1);
      const inputs: (string | number[])[] = ["Hello", [5, 6, 7]];
      assert.deepEqual(await gw.step({ sessionId: "sess", modelId: "fake", step: 0, inputIds: inputs[0] }), await reference.step({ sessionId: "sess", modelId: "fake", step: 0, inputIds: inputs[0] }));
      assert.equal(gw.pinnedWorker("sess"), "slowstep0");
      children.push(await spawnWorker(nats.url, "quickstep0"));
      await eventually(() => gw.workers().length === 2);
      const failuresBefore = gw.stats().workerFailures;
      const started = Date.now();
      const stepping = gw.step({ sessionId: "sess", modelId: "fake", step: 1, inputIds: inputs[1] });
      await new Promise((r) => setTimeout(r, 300)); // the step waits on the slow worker
      slow.kill("SIGKILL");
      const got = await stepping;
      const took = Date.now() - started;
      assert.deepEqual(got, await reference.step({ sessionId: "sess", modelId: "fake", step: 1, inputIds: inputs[1] }), "the position the dead worker would have given");
      assert.equal(gw.pinnedWorker("sess"), "quickstep0", "replayed on the other worker");
      assert.ok(gw.stats().workerFailures > failuresBefore);
      assert.ok(took < stepIdleMs / 4, `the step completed ${took} ms after it started, not after stepIdleMs (${stepIdleMs} ms)`);
    } finally {
      await gw.close();
      for (const c of children) c.kill("SIGKILL");
      await Promise.all(children.map(exited));
    }
  });

  test("cancel reaches the worker and stops its generation", async () => {
    const pipeline = slowFake(20);
    const worker = await startWorker({ servers: nats.url, pipeline, name: "cancel0" });
    const gw = await NatsPipeline.connect({ servers: nats.url });
    try {
      const abort = new AbortController();
      const pieces: string[] = [];
      let result: any;
      for await (const e of gw.stream({ modelId: "fake", prompt: "c", maxTokens: 1000, signal: abort.signal })) {
        if (e.kind === "text") {
          pieces.push(e.text);
          if (pieces.length === 3) abort.abort();
        } else result = e.result;
      }
      assert.equal(result.finishReason, "cancelled");
      assert.ok(pieces.length < 10, `stopped within a few pieces, got ${pieces.length}`);
      await eventually(() => pipeline.generationsInFlight === 0 && worker.inFlight() === 0);
      // Leaving the iteration early (a client going away) cancels too.
      for await (const e of gw.stream({ modelId: "fake", prompt: "c", maxTokens: 1000 })) if (e.kind === "text") break;
      await eventually(() => pipeline.generationsInFlight === 0 && worker.inFlight() === 0);
    } finally {
      await gw.close();
      await worker.close();
    }
  });

  test("unknown model, no responders, busy workers and a dead NATS server give coded errors, not hangs", async () => {
    const own = await startNatsServer();
    const pipeline = slowFake(20);
    const worker = await startWorker({ servers: own.url, pipeline, name: "busy0", maxInFlight: 1 });
    const gw = await NatsPipeline.connect({ servers: own.url, maxAttempts: 3, requestTimeoutMs: 500 });
    try {
      assert.equal(await codeOf(gw.generate({ modelId: "nope", prompt: "x" })), "MODEL_NOT_FOUND");
      const long = gw.generate({ modelId: "fake", prompt: "x", maxTokens: 30 });
      await eventually(() => worker.inFlight() === 1);
      assert.equal(await codeOf(gw.generate({ modelId: "fake", prompt: "y", maxTokens: 2 })), "BUSY");
      assert.equal((await long).text, expectedText(30));
      await worker.close();
      const t0 = Date.now();
      assert.equal(await codeOf(gw.generate({ modelId: "fake", prompt: "x" })), "BUSY", "no responders");
      assert.equal(await codeOf(gw.countTokens("fake", "x")), "BUSY");
      await own.stop();
      await eventually(() => gw.stats().generationsInFlight === 0);
      assert.equal(await codeOf(gw.generate({ modelId: "fake", prompt: "x" })), "BUSY", "NATS down");
      assert.ok(Date.now() - t0 < 10_000, "answered promptly");
    } finally {
      await gw.close();
      await own.stop();
    }
  });

  test("worker drain: finishes what it can, hands the rest back, and the gateway continues elsewhere", async () => {
    const quick = await spawnWorker(nats.url, "d0", { NATS_TEST_TOKEN_MS: "10", NATS_TEST_DRAIN_MS: "200" });
    const gw = await NatsPipeline.connect({ servers: nats.url });
    let other: ModelWorker | undefined;
    try {
      await eventually(() => gw.workers().some((w) => w.worker === "d0"));
      const run = collect(gw, "d", 60); // ~600 ms: longer than the drain allows
      await eventually(() => gw.workers().find((w) => w.worker === "d0")?.inFlight === 1);
      other = await startWorker({ servers: nats.url, pipeline: slowFake(2), name: "d1" });
      quick.kill("SIGTERM");
      const { text, result } = await run;
      assert.equal(text, expectedText(60));
      assert.equal(result.text, expectedText(60));
      await exited(quick);
      assert.equal(quick.exitCode, 0);
    } finally {
      await gw.close();
      await other?.close();
      quick.kill("SIGKILL");
    }
  });

  test("a slow consumer pauses the worker: it runs at most the credit window ahead", async () => {
    const pipeline = slowFake(1);
    let produced = 0;
    const inner = pipeline.tokenDelay;
    pipeline.tokenDelay = () => (produced++, inner());
    const worker = await startWorker({ servers: nats.url, pipeline, name: "credit0" });
    const gw = await NatsPipeline.connect({ servers: nats.url, window: 4 });
    try {
      const it = gw.stream({ modelId: "fake", prompt: "s", maxTokens: 100 })[Symbol.asyncIterator]();
      await it.next();
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(produced <= 1 + 4 + 2, `the worker paused: ${produced} tokens made while the client read 1`);
      await it.return!(undefined);
      await eventually(() => worker.inFlight() === 0);
    } finally {
      await gw.close();
      await worker.close();
    }
  });

  test("a normal node with pipelinePlugin(natsPipeline(...)) serves inference requests from the workers", async () => {
    const worker = await startWorker({ servers: nats.url, pipeline: slowFake(1), name: "node0" });
    const { node, url } = await startTestNode({ plugins: [pipelinePlugin(natsPipeline({ servers: nats.url })), inferencePlugin()] });
    const client = await TestClient.connect(url);
    try {
      client.send({ header: header("inference_request"), model_id: "fake", prompt: "hi", max_tokens: 5, stream: true, temperature: 0 });
      const { chunks, final } = await client.untilFinal();
      assert.equal(chunks.length, 5);
      assert.equal(final.header.message_type, "inference_response", JSON.stringify(final));
      client.send({ header: header("inference_request"), model_id: "nope", prompt: "hi" });
      const error = await client.next();
      assert.match(JSON.stringify(error), /MODEL_NOT_FOUND/);
    } finally {
      await client.close();
      await node.close();
      await worker.close();
    }
  });

  test("SIGKILL a worker running the real tiny ONNX model mid-stream: the resumed text is exactly an undisturbed run's", async () => {
    const names = ["o0", "o1", "o2", "o3", "o4", "o5", "o6", "o7"]; // one killed per case, one left at the end
    const children = new Map<string, ChildProcess>();
    for (const [i, child] of (await Promise.all(names.map((n) => spawnWorker(nats.url, n, { NATS_TEST_TOKEN_MS: "30" }, ONNX_WORKER)))).entries()) {
      children.set(names[i], child);
    }
    const gw = await NatsPipeline.connect({ servers: nats.url, idleMs: 300, requestTimeoutMs: 500 });
    const run = async (request: { modelId?: string; speculative?: boolean; prompt?: string; messages?: { role: string; content: string }[]; grammar?: GrammarSpec; tools?: ToolSpec[]; toolChoice?: "required" }, onPiece?: (n: number) => Promise<void>) => {
      let text = "";
      let n = 0;
      let result: any;
      for await (const e of gw.stream({ modelId: "tiny", maxTokens: 30, temperature: 0, ...request })) {
        if (e.kind === "text") {
          text += e.text;
          await onPiece?.(++n);
        } else result = e.result;
      }
      return { text, result };
    };
    try {
      await eventually(() => gw.workers().length === names.length);
      const cases = [
        { request: { prompt: "Hello, world!" }, cut: 7 },
        // Speculative decoding on, on a model whose text repeats: killed inside its accepted runs, resumed guessing from the delivered ids.
        { request: { modelId: "copy", prompt: "Hello, world!", speculative: true }, cut: 22 },
        { request: { prompt: "The quick brown fox jumps over the lazy dog because" }, cut: 12 },
        { request: { prompt: "Ünïcödé → 日本語 🙂" }, cut: 5 },
        { request: { messages: [{ role: "user", content: "Say something." }] }, cut: 9 },
        // Structured output: the grammar travels with the resubmitted try, its state rebuilt from the delivered ids.
        { request: { prompt: "Letters:", grammar: { type: "regex", pattern: "[a-z ]{250}" } as GrammarSpec }, cut: 8 },
        // Tool calling: the tools (and the grammar they bring) travel with the resubmitted try too.
        {
          request: {
            messages: [{ role: "user", content: "Pick." }],
            tools: [{ type: "function", function: { name: "pick", parameters: { type: "object", properties: { word: { type: "string", pattern: "[a-z]{40}" } }, required: ["word"] } } }] as ToolSpec[],
            toolChoice: "required" as const,
          },
          cut: 10,
        },
      ];
      for (const { request, cut } of cases) {
        const undisturbed = await run(request);
        assert.equal(undisturbed.result.usage.completionTokens, 30, "the reference ran all 30 tokens");
        if ("grammar" in request) assert.match(undisturbed.text, /^[a-z ]+$/, "the grammar reached the worker");
        if ("tools" in request) assert.match(undisturbed.text, /^<tool_call>\n\{"name": "pick", "arguments": \{/, "the tools reached the worker");
        await new Promise((r) => setTimeout(r, 500)); // heartbeats: the reference's worker is idle again
        const failuresBefore = (gw.stats() as any).workerFailures;
        let killed: string | undefined;
        const resumed = await run(request, async (n) => {
          if (n !== cut) return;
          // The serving worker, by its heartbeat (the worker runs on meanwhile, at most the credit window ahead).
          await eventually(() => gw.workers().some((w) => w.inFlight > 0 && children.has(w.worker)), "a worker serving the stream");
          const serving = gw.workers().find((w) => w.inFlight > 0 && children.has(w.worker))?.worker;
          assert.ok(serving, "a worker is serving the stream");
          killed = serving;
          children.get(serving)!.kill("SIGKILL");
          children.delete(serving);
        });
        assert.ok(killed, `killed the worker after ${cut} pieces`);
        assert.equal(resumed.text, undisturbed.text, `${JSON.stringify(request)} resumed after ${cut} pieces`); // a grammar lost on the way would change it
        assert.equal(resumed.result.text, undisturbed.text);
        assert.equal(resumed.result.finishReason, undisturbed.result.finishReason);
        assert.equal(resumed.result.usage.completionTokens, 30);
        assert.ok((gw.stats() as any).workerFailures > failuresBefore, "the gateway noticed the dead worker and resumed");
      }
    } finally {
      await gw.close();
      for (const c of children.values()) c.kill("SIGKILL");
      await Promise.all([...children.values()].map(exited));
    }
  });
});
