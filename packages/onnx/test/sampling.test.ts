// The sampling surface through the pipeline: log probabilities checked against a bare
// onnxruntime-node run of the same model (log-softmax computed here), penalties and bias
// deterministic and effective, bad values refused naming the field.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { GenerationEvent, TokenLogprob } from "@modelnode/core/pipeline";
import type { OnnxPipeline } from "../src/index.js";
import { bareModel, collect, logSoftmax, pipelineError, tinyPipeline, TINY_MODEL_DIR } from "./helpers.js";

describe("sampling options and log probabilities", () => {
  let pipeline: OnnxPipeline;
  let bare: Awaited<ReturnType<typeof bareModel>>;
  before(async () => {
    pipeline = await tinyPipeline({ maxTokensCeiling: 40 });
    bare = await bareModel(TINY_MODEL_DIR);
  });
  after(async () => {
    await pipeline.close();
    await bare.release();
  });

  const prompt = "The quick brown fox";
  const ids = (logprobs: TokenLogprob[]) => logprobs.map((entry) => entry.id);

  test("greedy: each token's logprob is the log-softmax of the bare model's logits, its top alternatives too (1e-4)", async () => {
    const result = await pipeline.generate({ modelId: "tiny", prompt, maxTokens: 8, logprobs: 3 });
    const logprobs = result.logprobs!;
    assert.equal(logprobs.length, result.usage.completionTokens);
    const context = (await pipeline.tokenize("tiny", prompt)).ids;
    for (const entry of logprobs) {
      const expected = logSoftmax(await bare.lastLogits(context));
      const best = expected.indexOf(Math.max(...expected));
      assert.equal(entry.id, best, "greedy picks the argmax");
      assert.ok(Math.abs(entry.logprob - expected[entry.id]) < 1e-4, `${entry.logprob} vs ${expected[entry.id]}`);
      assert.equal(entry.top!.length, 3);
      assert.equal(entry.top![0].id, best);
      for (const alternative of entry.top!) assert.ok(Math.abs(alternative.logprob - expected[alternative.id]) < 1e-4);
      context.push(entry.id);
    }
    assert.equal(logprobs.map((entry) => entry.token).join(""), result.text);
    assert.deepEqual(logprobs[0].bytes, [...new TextEncoder().encode(logprobs[0].token)]);
  });

  test("sampled with penalties and bias: logprob = log-softmax((logits − penalties + bias) / temperature) of the bare run (1e-4)", async () => {
    const options = { temperature: 0.8, seed: 11, presencePenalty: 0.5, frequencyPenalty: 0.3, repetitionPenalty: 1.2, logitBias: { 13: 4, 262: -2 } };
    const result = await pipeline.generate({ modelId: "tiny", prompt, maxTokens: 10, logprobs: 0, ...options });
    const promptIds = (await pipeline.tokenize("tiny", prompt)).ids;
    const generated: number[] = [];
    for (const entry of result.logprobs!) {
      const logits = await bare.lastLogits([...promptIds, ...generated]);
      for (const id of new Set([...promptIds, ...generated])) logits[id] = logits[id] > 0 ? logits[id] / 1.2 : logits[id] * 1.2;
      for (const id of new Set(generated)) logits[id] -= 0.3 * generated.filter((g) => g === id).length + 0.5;
      logits[13] += 4;
      logits[262] -= 2;
      const expected = logSoftmax(logits, 0.8)[entry.id];
      assert.ok(Math.abs(entry.logprob - expected) < 1e-4, `${entry.logprob} vs ${expected}`);
      assert.equal(entry.top, undefined, "logprobs 0: no alternatives");
      generated.push(entry.id);
    }
    const again = await pipeline.generate({ modelId: "tiny", prompt, maxTokens: 10, logprobs: 0, ...options });
    assert.deepEqual(ids(again.logprobs!), generated, "the same seed and options give the same tokens");
  });

  test("streamed: each text event carries one logprob per token id, and the result all of them", async () => {
    const events = await collect(pipeline.stream({ modelId: "tiny", prompt, maxTokens: 12, logprobs: 2 }));
    const texts = events.filter((e): e is Extract<GenerationEvent, { kind: "text" }> => e.kind === "text");
    for (const event of texts) assert.deepEqual(ids(event.logprobs!), event.tokenIds);
    const done = events.at(-1) as Extract<GenerationEvent, { kind: "done" }>;
    assert.deepEqual(done.result.logprobs, texts.flatMap((event) => event.logprobs!));
    const plain = await pipeline.generate({ modelId: "tiny", prompt, maxTokens: 12 });
    assert.equal(plain.logprobs, undefined, "none unless asked for");
    assert.equal(done.result.text, plain.text, "asking for logprobs changes nothing else");
  });

  test("penalties change greedy output, deterministically; a banning bias removes a token", async () => {
    const plain = await pipeline.generate({ modelId: "tiny", prompt, maxTokens: 16, logprobs: 0 });
    // Greedy decoding of the random-weights model never repeats a token by itself: negative
    // penalties (rewarding what was generated) are what changes it.
    assert.equal(new Set(ids(plain.logprobs!)).size, plain.logprobs!.length);
    const penalised = await pipeline.generate({ modelId: "tiny", prompt, maxTokens: 16, frequencyPenalty: -2, presencePenalty: -2, logprobs: 0 });
    const again = await pipeline.generate({ modelId: "tiny", prompt, maxTokens: 16, frequencyPenalty: -2, presencePenalty: -2, logprobs: 0 });
    assert.notEqual(penalised.text, plain.text);
    assert.equal(again.text, penalised.text);
    assert.ok(new Set(ids(penalised.logprobs!)).size < penalised.logprobs!.length, "rewarded tokens come back");
    const first = plain.logprobs![0].id;
    const banned = await pipeline.generate({ modelId: "tiny", prompt, maxTokens: 16, logitBias: { [first]: -100 }, logprobs: 0 });
    assert.ok(!ids(banned.logprobs!).includes(first));
    // Below 1 it favours what the prompt holds (greedy here never repeats a token by itself).
    const repeated = await pipeline.generate({ modelId: "tiny", prompt, maxTokens: 16, repetitionPenalty: 0.2 });
    assert.notEqual(repeated.text, plain.text);
  });

  test("min_p 1 keeps only the likeliest token: sampling at any temperature is greedy", async () => {
    const greedy = await pipeline.generate({ modelId: "tiny", prompt, maxTokens: 10 });
    const minP = await pipeline.generate({ modelId: "tiny", prompt, maxTokens: 10, temperature: 2, seed: 5, minP: 1 });
    assert.equal(minP.text, greedy.text);
  });

  test("bad values are INVALID_REQUEST naming the field", async () => {
    const refused = async (extra: object, field: string) => {
      await assert.rejects(pipeline.generate({ modelId: "tiny", prompt, ...extra }), (error: { details?: { field?: string } }) => {
        pipelineError("INVALID_REQUEST")(error);
        assert.equal(error.details?.field, field);
        return true;
      });
    };
    const vocab = pipeline.listModels()[0].vocabSize;
    await refused({ logitBias: { [vocab]: 1 } }, "logitBias");
    await refused({ logitBias: { "-1": 1 } }, "logitBias");
    await refused({ logitBias: { 1.5: 1 } }, "logitBias");
    await refused({ logitBias: { 5: 101 } }, "logitBias");
    await refused({ logitBias: Object.fromEntries(Array.from({ length: 301 }, (_, i) => [i, 1])) }, "logitBias");
    await refused({ minP: 1.5 }, "minP");
    await refused({ presencePenalty: 3 }, "presencePenalty");
    await refused({ frequencyPenalty: Number.NaN }, "frequencyPenalty");
    await refused({ repetitionPenalty: 0 }, "repetitionPenalty");
    await refused({ logprobs: 21 }, "logprobs");
    await refused({ logprobs: 1.5 }, "logprobs");
  });
});
