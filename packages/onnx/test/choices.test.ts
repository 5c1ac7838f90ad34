// Several choices of one request (core's ChoiceGroup, OpenAI's n) on the ONNX pipeline: one
// prefill for the group, each choice what the same request alone with its seed gives.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { choiceRequests } from "@modelnode/core";
import type { GenerateRequest, GenerationResult } from "@modelnode/core/pipeline";
import type { OnnxPipeline } from "../src/index.js";
import { collect, eventually, outcome, tinyPipeline } from "./helpers.js";

describe("choice groups", () => {
  let pipeline: OnnxPipeline;
  before(async () => {
    pipeline = await tinyPipeline({ maxTokensCeiling: 40, maxBatchSize: 4 });
  });
  after(() => pipeline.close());

  const request: GenerateRequest = { modelId: "tiny", prompt: "Once upon a time there was", maxTokens: 12, temperature: 1, seed: 40, logprobs: 1 };
  const run = (requests: GenerateRequest[]) => Promise.all(requests.map((each) => pipeline.generate(each)));
  const prefills = () => pipeline.stats().prefillRows;

  test("n choices are prefilled once, and each is what the request alone with seed + index gives", async () => {
    const before = prefills();
    const choices = await run(choiceRequests(request, 3));
    assert.equal(prefills() - before, 1, "one prefill input for the three");
    const alone: GenerationResult[] = [];
    for (let index = 0; index < 3; index++) alone.push(await pipeline.generate({ ...request, seed: 40 + index }));
    assert.deepEqual(choices.map(outcome), alone.map(outcome));
    assert.equal(new Set(choices.map((c) => c.text)).size, 3, "three seeds, three texts");
  });

  test("greedy choices are all the same text; a group larger than maxBatchSize goes in several prefills", async () => {
    const before = prefills();
    const choices = await run(choiceRequests({ modelId: "tiny", prompt: "Hello", maxTokens: 6 }, 6));
    assert.equal(new Set(choices.map((c) => c.text)).size, 1);
    assert.equal(prefills() - before, 2, "4 + 2");
  });

  test("a choice that differs from its group (another prompt) goes alone, with its own result", async () => {
    const [a, b] = choiceRequests(request, 2);
    const before = prefills();
    const [first, second] = await run([a, { ...b, prompt: "Something else" }]);
    assert.equal(prefills() - before, 2);
    assert.equal(outcome(first).text, (await pipeline.generate({ ...request, seed: 40 })).text);
    assert.equal(second.text, (await pipeline.generate({ ...request, prompt: "Something else", seed: 41 })).text);
  });

  test("cancelling one choice leaves the others running; cancelling the first before its prefill too", async () => {
    const controllers = [0, 1, 2].map(() => new AbortController());
    const requests = choiceRequests({ ...request, maxTokens: 30 }, 3).map((each, i) => ({ ...each, signal: controllers[i].signal }));
    controllers[0].abort(); // before it was even sent
    const streams = requests.map((each) => collect(pipeline.stream(each)));
    await eventually(() => pipeline.stats().tokensGenerated > 0, "tokens");
    controllers[2].abort();
    const [first, second, third] = await Promise.all(streams);
    const reason = (events: typeof first) => (events.at(-1) as { result: GenerationResult }).result.finishReason;
    assert.equal(reason(first), "cancelled");
    assert.equal(reason(second), "length");
    assert.equal(reason(third), "cancelled");
    await eventually(() => pipeline.stats().generationsInFlight === 0 && pipeline.stats().cacheBytes === 0, "everything freed");
  });

  test("a group whose caches do not fit the budget together is prefilled in parts that do", async () => {
    const small = await tinyPipeline({ maxTokensCeiling: 40 });
    const perToken = 2 * 2 * 32 * 4; // the tiny model: 2 layers × (key + value) × 32 × float32
    // Each choice reserves (2 prompt tokens + 10) tokens: room for two at a time.
    const tight = await tinyPipeline({ maxTokensCeiling: 40, maxCacheBytes: 2 * 12 * perToken });
    try {
      const group = { modelId: "tiny", prompt: "Hello there", maxTokens: 10, temperature: 1, seed: 3 };
      const before = tight.stats().prefillRows;
      const results = await Promise.all(choiceRequests(group, 4).map((each) => tight.generate(each)));
      assert.equal(tight.stats().prefillRows - before, 2, "two parts of two");
      assert.equal((await tight.tokenize("tiny", group.prompt)).ids.length, 2);
      const alone = await Promise.all(choiceRequests(group, 4).map((each) => small.generate(each)));
      assert.deepEqual(results.map(outcome).map((r) => r.text), alone.map(outcome).map((r) => r.text));
    } finally {
      await small.close();
      await tight.close();
    }
  });

  test("a refused group fails every choice", async () => {
    const requests = choiceRequests({ ...request, prompt: "x ".repeat(3000) }, 3);
    const outcomes = await Promise.allSettled(requests.map((each) => pipeline.generate(each)));
    for (const each of outcomes) assert.ok(each.status === "rejected" && /context/i.test(String(each.reason)), String(each.status));
  });
});
