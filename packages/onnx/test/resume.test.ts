/**
 * GenerateRequest.resume: a generation continued from its token ids (as the NATS gateway does when
 * a worker dies) gives exactly the text of an undisturbed run. The resume is built the way a
 * consumer would: from the first run's text events (their tokenIds and text) up to a cut.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { GenerateRequest, GenerationResult } from "@modelnode/core/pipeline";
import type { OnnxPipeline } from "../src/index.js";
import { outcome, tinyPipeline } from "./helpers.js";

interface Piece {
  text: string;
  tokenIds: number[];
}

async function run(pipeline: OnnxPipeline, request: GenerateRequest): Promise<{ pieces: Piece[]; result: GenerationResult }> {
  const pieces: Piece[] = [];
  let result: GenerationResult | undefined;
  for await (const event of pipeline.stream(request)) {
    if (event.kind === "text") {
      assert.ok(Array.isArray(event.tokenIds), "every text event says its token ids");
      pieces.push({ text: event.text, tokenIds: event.tokenIds! });
    } else result = event.result;
  }
  return { pieces, result: result! };
}

/** The pieces a client had received when the stream was cut after (at most) `tokens` generated ids. */
function deliveredUpTo(pieces: Piece[], tokens: number): { text: string; generatedIds: number[] } {
  let text = "";
  const generatedIds: number[] = [];
  for (const piece of pieces) {
    if (generatedIds.length + piece.tokenIds.length > tokens) break;
    text += piece.text;
    generatedIds.push(...piece.tokenIds);
  }
  return { text, generatedIds };
}

describe("resume from token ids (tiny-gpt2, greedy)", () => {
  let pipeline: OnnxPipeline;
  before(async () => {
    pipeline = await tinyPipeline();
  });
  after(() => pipeline?.close());

  const cases: { name: string; request: Omit<GenerateRequest, "modelId">; cuts: number[] }[] = [
    { name: "Hello, world!", request: { prompt: "Hello, world!", maxTokens: 30 }, cuts: [1, 3, 7, 12, 20] },
    { name: "a longer prompt", request: { prompt: "The quick brown fox jumps over the lazy dog because", maxTokens: 30 }, cuts: [1, 5, 13, 29] },
    { name: "unicode prompt", request: { prompt: "Ünïcödé → 日本語 🙂", maxTokens: 30 }, cuts: [2, 9, 17, 25] },
    { name: "a chat", request: { messages: [{ role: "user", content: "Say something." }], maxTokens: 30 }, cuts: [1, 8, 21] },
    { name: "with a stop string", request: { prompt: "Hello, world!", maxTokens: 30, stop: ["zzzz-never"] }, cuts: [4, 15] },
  ];

  for (const { name, request, cuts } of cases) {
    test(`${name}: delivered text + the resumed generation's text = an undisturbed run's, at cuts ${cuts.join(", ")}`, async () => {
      const full = { modelId: "tiny", temperature: 0, ...request } as GenerateRequest;
      const undisturbed = await pipeline.generate(full);
      const first = await run(pipeline, full);
      assert.equal(first.result.text, undisturbed.text);
      assert.equal(first.pieces.map((p) => p.text).join(""), undisturbed.text);
      const ids = first.pieces.flatMap((p) => p.tokenIds);
      assert.ok(ids.length <= first.result.usage.completionTokens);
      for (const cut of cuts) {
        const delivered = deliveredUpTo(first.pieces, cut);
        const resumed = await run(pipeline, { ...full, resume: { generatedIds: delivered.generatedIds, deliveredChars: delivered.text.length } });
        const rest = resumed.pieces.map((p) => p.text).join("");
        assert.equal(delivered.text + rest, undisturbed.text, `cut after ${cut} tokens (${delivered.generatedIds.length} delivered)`);
        assert.equal(resumed.result.text, undisturbed.text, "the result holds the whole generation's text");
        assert.equal(resumed.result.finishReason, undisturbed.finishReason);
        assert.deepEqual(outcome(resumed.result).usage, outcome(undisturbed).usage, "generatedIds count toward maxTokens and completion tokens");
        // The undisturbed run's blocks are cached: the resumed one starts from them, within its prompt.
        assert.ok((resumed.result.usage.cachedTokens ?? 0) <= resumed.result.usage.promptTokens);
        assert.deepEqual([...delivered.generatedIds, ...resumed.pieces.flatMap((p) => p.tokenIds)], ids, "the same token ids");
      }
    });
  }

  test("a resume that already reached maxTokens ends at once; bad resumes are refused", async () => {
    const full: GenerateRequest = { modelId: "tiny", prompt: "Hello, world!", maxTokens: 5, temperature: 0 };
    const first = await run(pipeline, full);
    const ids = first.pieces.flatMap((p) => p.tokenIds);
    const done = await run(pipeline, { ...full, resume: { generatedIds: ids, deliveredChars: 0 } });
    assert.equal(done.pieces.map((p) => p.text).join(""), first.result.text.slice(0, done.result.text.length));
    assert.equal(done.result.finishReason, "length");
    assert.equal(done.result.usage.completionTokens, ids.length);
    await assert.rejects(run(pipeline, { ...full, resume: { generatedIds: [1e9], deliveredChars: 0 } }), /token/i);
    await assert.rejects(run(pipeline, { ...full, resume: { generatedIds: [1], deliveredChars: -1 } }), /deliveredChars/);
  });
});
