import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createOnnxPipeline, type OnnxPipeline } from "../src/index.js";
import { copyTinyModel, ensureModel, eventually, pipelineError, tinyPipeline } from "./helpers.js";

describe("tokenize, countTokens, detokenize", () => {
  let pipeline: OnnxPipeline;
  before(async () => {
    pipeline = await tinyPipeline();
  });
  after(() => pipeline.close());

  test("the model's facts: end-of-sequence and beginning-of-sequence ids, architecture", () => {
    const [info] = pipeline.listModels();
    assert.deepEqual(info.eosTokenIds, [50256]);
    assert.equal(info.bosTokenId, 50256);
    assert.equal(info.architecture, "gpt2");
    info.eosTokenIds!.push(1); // a copy: the pipeline's own facts are not changed
    assert.deepEqual(pipeline.listModels()[0].eosTokenIds, [50256]);
  });

  test("ids are what a prompt is encoded to: usage.promptTokens counts them, steps feed them", async () => {
    for (const text of ["The quick brown fox", "Hello, world! 123", "  spaced  out\n\nlines\t", "héllo wörld ✓ 😀"]) {
      const { ids, tokens } = await pipeline.tokenize("tiny", text);
      assert.equal(tokens.length, ids.length);
      assert.equal(await pipeline.countTokens("tiny", text), ids.length);
      const result = await pipeline.generate({ modelId: "tiny", prompt: text, maxTokens: 1 });
      assert.equal(result.usage.promptTokens, ids.length, text);
      const step = await pipeline.step({ sessionId: "tokenize-check", modelId: "tiny", step: 0, inputIds: text });
      assert.deepEqual(step.inputIds, ids, text);
    }
    pipeline.closeSession("tokenize-check");
    assert.deepEqual((await pipeline.tokenize("tiny", "The quick brown fox")).ids, [464, 2068, 7586, 21831]);
  });

  test("the token strings join to the text; a character split across tokens comes out whole", async () => {
    const text = "😀 and 漢字 <|endoftext|> end";
    const { ids, tokens } = await pipeline.tokenize("tiny", text);
    assert.equal(tokens.join(""), text);
    assert.ok(ids.includes(50256), "the special token is one id");
    assert.ok(tokens.includes("<|endoftext|>"));
    assert.deepEqual(tokens.slice(0, 2), ["", "😀"], "the emoji's first token holds part of it: an empty piece");
    assert.ok(tokens.includes("漢") && tokens.includes("字"));
  });

  test("an empty text is what an empty prompt gets: the BOS token", async () => {
    assert.deepEqual(await pipeline.tokenize("tiny", ""), { ids: [50256], tokens: ["<|endoftext|>"] });
    assert.equal(await pipeline.countTokens("tiny", ""), 1);
    const result = await pipeline.generate({ modelId: "tiny", prompt: "", maxTokens: 1 });
    assert.equal(result.usage.promptTokens, 1);
  });

  test("detokenize(tokenize(text).ids) gives the text back", async () => {
    const texts = ["The quick brown fox jumps over the lazy dog.", "  leading and trailing  ", "a\nb\tc", "x = [1, 2, 3]; // ok?", "héllo 😀"];
    for (const text of texts) {
      assert.equal(await pipeline.detokenize("tiny", (await pipeline.tokenize("tiny", text)).ids), text);
    }
    assert.equal(await pipeline.detokenize("tiny", []), "");
    assert.equal(await pipeline.detokenize("tiny", [50256, 15496]), "Hello", "special tokens are left out, as in generated text");
  });

  test("an unknown model is MODEL_NOT_FOUND; ids outside the vocabulary are INVALID_TOKENS", async () => {
    await assert.rejects(pipeline.tokenize("nope", "hi"), pipelineError("MODEL_NOT_FOUND"));
    await assert.rejects(pipeline.countTokens("nope", "hi"), pipelineError("MODEL_NOT_FOUND"));
    await assert.rejects(pipeline.detokenize("nope", [1]), pipelineError("MODEL_NOT_FOUND"));
    for (const bad of [[50257], [-1], [1, 1.5], [Number.NaN], ["1"] as unknown as number[]]) {
      await assert.rejects(pipeline.detokenize("tiny", bad), pipelineError("INVALID_TOKENS"), JSON.stringify(bad));
    }
    await assert.rejects(pipeline.detokenize("tiny", "1" as unknown as number[]), pipelineError("INVALID_TOKENS"));
    await assert.rejects(pipeline.tokenize("tiny", 5 as unknown as string), pipelineError("INVALID_REQUEST"));
  });

  test("concurrent calls each get their own answer", async () => {
    const texts = Array.from({ length: 40 }, (_, i) => `text number ${i} ${"word ".repeat(i)}`);
    const counts = await Promise.all(texts.map((text) => pipeline.countTokens("tiny", text)));
    const expected = await Promise.all(texts.map(async (text) => (await pipeline.tokenize("tiny", text)).ids.length));
    assert.deepEqual(counts, expected);
  });
});

describe("tokenizing beside sessions and generations", () => {
  test("with every step session held, tokenizing evicts and closes none of them", async (t) => {
    const pipeline = await tinyPipeline({ maxSessions: 2 });
    t.after(() => pipeline.close());
    const first = await pipeline.step({ sessionId: "s1", modelId: "tiny", step: 0, inputIds: "one" });
    const second = await pipeline.step({ sessionId: "s2", modelId: "tiny", step: 0, inputIds: "two" });
    const before = pipeline.stats();
    assert.equal(before.activeSessions, 2);
    for (let i = 0; i < 5; i++) {
      await pipeline.tokenize("tiny", `count me ${i}`);
      await pipeline.countTokens("tiny", `count me ${i}`);
      await pipeline.detokenize("tiny", [1, 2, 3]);
    }
    const after = pipeline.stats();
    assert.equal(after.activeSessions, 2);
    assert.equal(after.sessionsEvicted, before.sessionsEvicted);
    assert.equal(after.cacheBytes, before.cacheBytes);
    // Both sessions carry on where they were.
    assert.equal((await pipeline.step({ sessionId: "s1", modelId: "tiny", step: 1, inputIds: [first.nextTokenId] })).sequenceLength, 2);
    assert.equal((await pipeline.step({ sessionId: "s2", modelId: "tiny", step: 1, inputIds: [second.nextTokenId] })).sequenceLength, 2);
  });

  test("tokenizing does not wait behind model runs", async (t) => {
    const pipeline = await createOnnxPipeline({ models: { slow: ensureModel("slow-tiny-gpt2") } }); // ~0.1 s a run
    t.after(() => pipeline.close());
    const controller = new AbortController();
    const running = pipeline.generate({ modelId: "slow", prompt: "keep the engine busy", maxTokens: 500, signal: controller.signal });
    await pipeline.countTokens("slow", "warm up");
    await eventually(() => pipeline.stats().generationsInFlight === 1, "the generation to start");
    const started = performance.now();
    for (let i = 0; i < 10; i++) await pipeline.tokenize("slow", `while it runs ${i}`);
    const elapsed = performance.now() - started;
    assert.equal(pipeline.stats().generationsInFlight, 1, "the generation is still running");
    controller.abort();
    assert.equal((await running).finishReason, "cancelled");
    // Ten calls behind ~0.1 s runs would take about a second; alone they take milliseconds.
    assert.ok(elapsed < 500, `ten tokenize calls took ${elapsed.toFixed(0)} ms`);
  });

  test("a tokenizer that adds BOS: tokenize and prompts both include it", async (t) => {
    const { dir, cleanup } = copyTinyModel();
    t.after(cleanup);
    const file = join(dir, "tokenizer.json");
    const tokenizer = JSON.parse(readFileSync(file, "utf8"));
    const bos = { SpecialToken: { id: "<|endoftext|>", type_id: 0 } };
    tokenizer.post_processor = {
      type: "TemplateProcessing",
      single: [bos, { Sequence: { id: "A", type_id: 0 } }],
      pair: [bos, { Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
      special_tokens: { "<|endoftext|>": { id: "<|endoftext|>", ids: [50256], tokens: ["<|endoftext|>"] } },
    };
    writeFileSync(file, JSON.stringify(tokenizer));
    const pipeline = await createOnnxPipeline({ models: { bos: dir } });
    t.after(() => pipeline.close());
    const { ids, tokens } = await pipeline.tokenize("bos", "Hello");
    assert.deepEqual(ids, [50256, 15496]);
    assert.deepEqual(tokens, ["<|endoftext|>", "Hello"]);
    assert.equal((await pipeline.generate({ modelId: "bos", prompt: "Hello", maxTokens: 1 })).usage.promptTokens, 2);
    assert.equal(await pipeline.detokenize("bos", ids), "Hello");
  });

  test("after close, calls fail with SHUTTING_DOWN", async () => {
    const pipeline = await tinyPipeline();
    await pipeline.countTokens("tiny", "hello");
    await pipeline.close();
    await assert.rejects(pipeline.tokenize("tiny", "hello"), pipelineError("SHUTTING_DOWN"));
  });
});
