/**
 * A sampled generation resumed elsewhere (GenerateRequest.resume with `samplerState`, as the NATS
 * gateway does when a worker dies) draws on exactly as the undisturbed run: the same text, seeded
 * or not, one choice of a group, with speculative decoding on. The resume is built as a consumer
 * would: from the first run's text events (tokenIds, text, samplerState) up to a cut.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { choiceRequests } from "@modelnode/core";
import type { GenerateRequest, GenerationEvent, GenerationResult } from "@modelnode/core/pipeline";
import { createOnnxPipeline, type OnnxPipeline } from "../src/index.js";
import { pipelineError } from "./helpers.js";
import { models } from "./speculative-helpers.js";

interface Piece {
  text: string;
  tokenIds: number[];
  samplerState: string | undefined;
}

interface Run {
  pieces: Piece[];
  result: GenerationResult;
}

async function collect(events: AsyncIterable<GenerationEvent>): Promise<Run> {
  const pieces: Piece[] = [];
  for await (const event of events) {
    if (event.kind === "done") return { pieces, result: event.result };
    pieces.push({ text: event.text, tokenIds: event.tokenIds!, samplerState: event.samplerState });
  }
  throw new Error("the stream ended without a result");
}

/** What a client holds after the pieces of (at most) `tokens` generated ids: the resume it would send. */
function resumeAfter(pieces: Piece[], tokens: number): { text: string; resume: NonNullable<GenerateRequest["resume"]> } {
  let text = "";
  const generatedIds: number[] = [];
  let samplerState: string | undefined;
  for (const piece of pieces) {
    if (generatedIds.length + piece.tokenIds.length > tokens) break;
    text += piece.text;
    generatedIds.push(...piece.tokenIds);
    samplerState = piece.samplerState;
  }
  assert.ok(generatedIds.length > 0, `some ids delivered before the cut at ${tokens}`);
  assert.match(samplerState ?? "", /./, "a sampled stream's text events carry the sampler's state");
  return { text, resume: { generatedIds, deliveredChars: text.length, samplerState } };
}

/** Resumes `first` at each cut; each time the delivered text plus the rest is the whole text, with the same ids. */
async function assertResumesExactly(pipeline: OnnxPipeline, request: GenerateRequest, first: Run, cuts: number[]): Promise<void> {
  const ids = first.pieces.flatMap((p) => p.tokenIds);
  assert.ok(ids.length >= Math.max(...cuts) + 1, `the run generated past the last cut (${ids.length} ids)`);
  for (const cut of cuts) {
    const { text, resume } = resumeAfter(first.pieces, cut);
    const resumed = await collect(pipeline.stream({ ...request, resume }));
    assert.equal(text + resumed.pieces.map((p) => p.text).join(""), first.result.text, `resumed after ${resume.generatedIds.length} ids`);
    assert.deepEqual([...resume.generatedIds, ...resumed.pieces.flatMap((p) => p.tokenIds)], ids, "the same token ids");
    assert.equal(resumed.result.text, first.result.text);
    assert.equal(resumed.result.finishReason, first.result.finishReason);
    assert.equal(resumed.result.usage.completionTokens, first.result.usage.completionTokens);
    assert.deepEqual(resumed.pieces.at(-1)?.samplerState, first.pieces.at(-1)?.samplerState, "the sampler ends where the undisturbed one did");
  }
}

describe("resume a sampled generation from its sampler state (tiny-gpt2)", () => {
  let pipeline: OnnxPipeline;
  before(async () => {
    pipeline = await createOnnxPipeline({ models: models(), speculative: { method: "ngram", positionCost: 0 } });
  });
  after(() => pipeline?.close());

  const sampled: GenerateRequest = { modelId: "tiny", prompt: "Once upon a time", maxTokens: 40, temperature: 1, topP: 0.9, speculative: false };
  const cuts = [1, 6, 17, 31];

  test("seeded, temperature 1 and top-p 0.9: the resumed text is the undisturbed run's, and without the state it is not", async () => {
    const request = { ...sampled, seed: 7 };
    const first = await collect(pipeline.stream(request));
    assert.equal((await pipeline.generate(request)).text, first.result.text, "the seed reproduces the text");
    await assertResumesExactly(pipeline, request, first, cuts);
    // The seed alone redraws from the start: the test would notice a state that did not travel.
    let differs = 0;
    for (const cut of cuts) {
      const { text, resume } = resumeAfter(first.pieces, cut);
      const { samplerState: _, ...idsOnly } = resume;
      const resumed = await collect(pipeline.stream({ ...request, resume: idsOnly }));
      if (text + resumed.pieces.map((p) => p.text).join("") !== first.result.text) differs++;
    }
    assert.ok(differs > 0, "resuming from the seed alone changes some continuation");
  });

  test("without a seed (the pipeline picks one): the state alone carries the stream on exactly", async () => {
    const first = await collect(pipeline.stream(sampled));
    await assertResumesExactly(pipeline, sampled, first, cuts);
  });

  test("one choice of an unseeded group of two, prefilled together, resumed alone", async () => {
    const requests = choiceRequests(sampled, 2);
    const runs = await Promise.all(requests.map((request) => collect(pipeline.stream(request))));
    assert.notEqual(runs[0].result.text, runs[1].result.text, "each choice samples its own text");
    const { choice: _, ...alone } = requests[1];
    await assertResumesExactly(pipeline, alone, runs[1], [3, 20]);
  });

  test("speculative decoding on (the copy model, whose guesses often come true): exact, and its state is plain decoding's", async () => {
    const prompt = `Again: ${(await pipeline.generate({ modelId: "copy", prompt: "Hello there", maxTokens: 40, speculative: false })).text}`;
    const request: GenerateRequest = { modelId: "copy", prompt, maxTokens: 40, temperature: 1.6, topK: 3, topP: 0.95, seed: 11, speculative: true };
    const first = await collect(pipeline.stream(request));
    const statsBefore = pipeline.stats();
    await assertResumesExactly(pipeline, request, first, cuts);
    assert.ok(pipeline.stats().specAcceptedTokens > statsBefore.specAcceptedTokens, "the resumed runs' guesses were accepted");
    // One draw per token either way: a speculative run's state resumes a plain one, and back.
    await assertResumesExactly(pipeline, { ...request, speculative: false }, first, [9, 24]);
    const plain = await collect(pipeline.stream({ ...request, speculative: false }));
    await assertResumesExactly(pipeline, request, plain, [5, 28]);
  });

  test("a greedy stream carries no state; a malformed one is INVALID_REQUEST naming resume.samplerState", async () => {
    const greedy = await collect(pipeline.stream({ ...sampled, temperature: 0 }));
    assert.ok(greedy.pieces.every((p) => p.samplerState === undefined));
    const ids = greedy.pieces[0].tokenIds;
    for (const samplerState of ["", "xyz", "0123456789", "DEADBEEF", 42 as unknown as string]) {
      await assert.rejects(collect(pipeline.stream({ ...sampled, resume: { generatedIds: ids, deliveredChars: 0, samplerState } })), (error: unknown) => {
        pipelineError("INVALID_REQUEST")(error);
        assert.deepEqual((error as { details?: unknown }).details, { field: "resume.samplerState" }, JSON.stringify(samplerState));
        return true;
      });
    }
  });
});
