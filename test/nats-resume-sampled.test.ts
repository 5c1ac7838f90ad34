/**
 * Sampled streams through the NATS gateway, their worker SIGKILLed mid-stream (docs/scale-out.md,
 * "Failures"): the gateway resumes them on another worker from the delivered token ids and the
 * sampler state of the last delivered piece, so a seeded sampled stream's text is exactly an
 * undisturbed run's, speculative decoding on or off. Worker processes run the real tiny ONNX
 * models (models/tiny-gpt2 as "tiny", the copy-friendly one as "copy"). The greedy cases are in
 * nats-scale.test.ts.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { after, test } from "node:test";
import type { GenerateRequest, GenerationResult } from "@modelnode/core/pipeline";
import { NatsPipeline } from "@modelnode/nats";
import { eventually } from "@modelnode/testing";
import { ONNX_WORKER, skipWithoutNats, spawnWorker, startNatsServer, type NatsServer } from "./support/nats.js";

const children = new Map<string, ChildProcess>();
let nats: NatsServer | undefined;
let gw: NatsPipeline | undefined;
after(async () => {
  await gw?.close();
  for (const child of children.values()) child.kill("SIGKILL");
  await nats?.stop();
});

type Request = Omit<GenerateRequest, "modelId" | "signal"> & { modelId?: string };

async function run(request: Request, onPiece?: (n: number) => Promise<void>): Promise<{ text: string; states: (string | undefined)[]; result: GenerationResult }> {
  let text = "";
  const states: (string | undefined)[] = [];
  let result: GenerationResult | undefined;
  for await (const e of gw!.stream({ modelId: "tiny", maxTokens: 40, ...request })) {
    if (e.kind === "text") {
      text += e.text;
      states.push(e.samplerState);
      await onPiece?.(states.length);
    } else result = e.result;
  }
  return { text, states, result: result! };
}

test("SIGKILL the worker of a seeded sampled stream mid-stream: the resumed text is exactly an undisturbed run's", { skip: skipWithoutNats, timeout: 120_000 }, async () => {
  nats = await startNatsServer();
  const names = ["s0", "s1", "s2"]; // one killed per case, one left at the end
  for (const [i, child] of (await Promise.all(names.map((n) => spawnWorker(nats!.url, n, { NATS_TEST_TOKEN_MS: "30" }, ONNX_WORKER)))).entries()) children.set(names[i], child);
  gw = await NatsPipeline.connect({ servers: nats.url, idleMs: 300, requestTimeoutMs: 500 });
  await eventually(() => gw!.workers().length === names.length, "every worker known to the gateway", 15_000);

  const cases: { request: Request; cut: number }[] = [
    { request: { prompt: "Once upon a time", temperature: 1, topP: 0.9, seed: 7 }, cut: 9 },
    // Speculative decoding on, on a model whose text repeats, so that guesses are kept (rejection sampling draws once per token too).
    { request: { modelId: "copy", messages: [{ role: "user", content: "Say something." }], temperature: 1.3, topK: 3, seed: 5, speculative: true }, cut: 14 },
  ];
  for (const { request, cut } of cases) {
    const undisturbed = await run(request);
    assert.equal(undisturbed.result.usage.completionTokens, 40, "the reference ran all 40 tokens");
    assert.ok(undisturbed.states.every((state) => typeof state === "string"), "the gateway's text events carry the sampler's state");
    assert.notEqual((await run({ ...request, seed: request.seed! + 1 })).text, undisturbed.text, "the text is sampled: another seed gives another");
    await new Promise((r) => setTimeout(r, 500)); // heartbeats: the reference's worker is idle again
    const failuresBefore = gw.stats().workerFailures;
    let killed: string | undefined;
    const resumed = await run(request, async (n) => {
      if (n !== cut) return;
      // The serving worker, by its heartbeat (it runs on meanwhile, at most the credit window ahead).
      await eventually(() => gw!.workers().some((w) => w.inFlight > 0 && children.has(w.worker)), "a worker serving the stream", 15_000);
      killed = gw!.workers().find((w) => w.inFlight > 0 && children.has(w.worker))!.worker;
      children.get(killed)!.kill("SIGKILL");
      children.delete(killed);
    });
    assert.ok(killed, `killed the worker after ${cut} pieces`);
    assert.equal(resumed.text, undisturbed.text, `${JSON.stringify(request)} resumed after ${cut} pieces`);
    assert.equal(resumed.result.text, undisturbed.text);
    assert.equal(resumed.result.finishReason, undisturbed.result.finishReason);
    assert.equal(resumed.result.usage.completionTokens, 40);
    assert.equal(resumed.states.at(-1), undisturbed.states.at(-1), "the sampler ends where the undisturbed one did");
    assert.ok(gw.stats().workerFailures > failuresBefore, "the gateway noticed the dead worker and resumed");
  }
});
