// Resume data (docs/protocol.md, "Resuming a stream"): with resumable: true each chunk carries the
// ids generated since the previous chunk, the characters delivered so far and the sampler's state;
// a request with `resume` reaches the pipeline as GenerateRequest.resume and its chunks continue
// the count. The input is checked field by field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { inferencePlugin } from "../src/index.js";
import { pipelinePlugin } from "@modelnode/core/server";
import type { GenerateRequest, GenerationEvent } from "@modelnode/core";
import { FakePipeline } from "@modelnode/testing";
import { nodeWith, send } from "./harness.js";

/**
 * Token i reads "t<i>" except every third, whose text is held back until the next token (like an
 * incomplete character); the sampler state after token i is "s<i>". It honours resume: it starts
 * after the generated ids and emits only the text past the delivered characters.
 */
class ResumingPipeline extends FakePipeline {
  constructor(private readonly withIds = true) {
    super();
  }

  override async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    this.requests.push(request);
    const max = request.maxTokens ?? 16;
    const from = request.resume?.generatedIds.length ?? 0;
    let skip = request.resume?.deliveredChars ?? 0;
    let text = [...Array(from).keys()].map((i) => `t${i}`).join("");
    let held = text.slice(skip);
    skip = 0;
    for (let i = from; i < max; i++) {
      held += `t${i}`;
      text += `t${i}`;
      const out = i % 3 === 2 ? "" : held;
      if (out) held = "";
      yield { kind: "text", text: out, ...(this.withIds ? { tokenIds: [i] } : {}), samplerState: `s${i}` };
    }
    if (held) yield { kind: "text", text: held, ...(this.withIds ? { tokenIds: [] } : {}) };
    yield { kind: "done", result: { text, finishReason: "length", usage: { promptTokens: 1, completionTokens: max } } };
  }
}

async function setup(pipeline = new ResumingPipeline()) {
  const node = await nodeWith([inferencePlugin({ maxTokensLimit: 100 }), pipelinePlugin(pipeline)]);
  return { node, pipeline };
}

const chunksOf = (frames: { type: string; payload: any }[]) => frames.filter((f) => f.type === "inference_chunk").map((f) => f.payload);

test("resumable: true: each chunk carries the ids since the previous chunk (a textless event's too), the characters delivered so far and the sampler state", async () => {
  const { node } = await setup();
  const frames = await send(node, "inference_request", { model_id: "fake", prompt: "p", max_tokens: 5, stream: true, resumable: true });
  const chunks = chunksOf(frames);
  assert.deepEqual(
    chunks.map(({ text, token_ids, delivered_chars, sampler_state }) => ({ text, token_ids, delivered_chars, sampler_state })),
    [
      { text: "t0", token_ids: [0], delivered_chars: 2, sampler_state: "s0" },
      { text: "t1", token_ids: [1], delivered_chars: 4, sampler_state: "s1" },
      { text: "t2t3", token_ids: [2, 3], delivered_chars: 8, sampler_state: "s3" },
      { text: "t4", token_ids: [4], delivered_chars: 10, sampler_state: "s4" },
    ],
  );
  const plain = chunksOf(await send(node, "inference_request", { model_id: "fake", prompt: "p", max_tokens: 5, stream: true }));
  assert.ok(plain.every((c) => c.token_ids === undefined && c.delivered_chars === undefined && c.sampler_state === undefined), "no resume data unless asked for");
  await node.close();
});

test("resume reaches the pipeline in its names; the chunks carry only what follows, their count continues; usage is the whole generation's", async () => {
  const { node, pipeline } = await setup();
  const resume = { generated_ids: [0, 1, 2], delivered_chars: 4, sampler_state: "s2" };
  const frames = await send(node, "inference_request", { model_id: "fake", prompt: "p", max_tokens: 5, stream: true, resumable: true, resume });
  assert.deepEqual(pipeline.requests[0].resume, { generatedIds: [0, 1, 2], deliveredChars: 4, samplerState: "s2" });
  const chunks = chunksOf(frames);
  assert.deepEqual(chunks.map((c) => [c.text, c.token_ids, c.delivered_chars]), [["t2t3", [3], 8], ["t4", [4], 10]]);
  const last = frames[frames.length - 1].payload;
  assert.equal(last.text, "t0t1t2t3t4");
  assert.equal(last.usage.completion_tokens, 5);
  await node.close();
});

test("resume data is checked field by field: VALIDATION_FAILED naming the field", async () => {
  const { node, pipeline } = await setup();
  const base = { model_id: "fake", prompt: "p", stream: true };
  const tools = [{ type: "function", function: { name: "f" } }];
  const cases: [Record<string, unknown>, string][] = [
    [{ ...base, resumable: "yes" }, "resumable"],
    [{ ...base, stream: false, resumable: true }, "resumable"],
    [{ model_id: "fake", messages: [{ role: "user", content: "x" }], tools, stream: true, resumable: true }, "resumable"],
    [{ ...base, resume: [1] }, "resume"],
    [{ ...base, resume: { delivered_chars: 0 } }, "resume.generated_ids"],
    [{ ...base, resume: { generated_ids: [1.5], delivered_chars: 0 } }, "resume.generated_ids"],
    [{ ...base, resume: { generated_ids: [-1], delivered_chars: 0 } }, "resume.generated_ids"],
    [{ ...base, resume: { generated_ids: ["1"], delivered_chars: 0 } }, "resume.generated_ids"],
    [{ ...base, max_tokens: 3, resume: { generated_ids: [1, 2, 3, 4], delivered_chars: 0 } }, "resume.generated_ids"],
    [{ ...base, resume: { generated_ids: Array(101).fill(1), delivered_chars: 0 } }, "resume.generated_ids"],
    [{ ...base, resume: { generated_ids: [1], delivered_chars: -1 } }, "resume.delivered_chars"],
    [{ ...base, resume: { generated_ids: [1], delivered_chars: 0.5 } }, "resume.delivered_chars"],
    [{ ...base, resume: { generated_ids: [], delivered_chars: 3 } }, "resume.delivered_chars"],
    [{ ...base, resume: { generated_ids: [1], delivered_chars: 1, sampler_state: "" } }, "resume.sampler_state"],
    [{ ...base, resume: { generated_ids: [1], delivered_chars: 1, sampler_state: "x".repeat(1025) } }, "resume.sampler_state"],
    [{ model_id: "fake", messages: [{ role: "user", content: "x" }], tools, resume: { generated_ids: [1], delivered_chars: 1 } }, "resume"],
  ];
  for (const [payload, path] of cases) {
    await assert.rejects(send(node, "inference_request", payload), (err: any) => {
      assert.equal(err.code, "VALIDATION_FAILED", JSON.stringify(payload));
      assert.ok(err.details.issues.some((i: { path: string }) => i.path === path || i.path.startsWith(`${path}.`)), `${JSON.stringify(payload).slice(0, 200)}: ${JSON.stringify(err.details.issues)}`);
      return true;
    });
  }
  assert.equal(pipeline.requests.length, 0);
  await node.close();
});

test("a pipeline that does not say token ids: resumable chunks carry no resume data, and a resume is INVALID_REQUEST (it would start over)", async () => {
  const { node } = await setup(new ResumingPipeline(false));
  const chunks = chunksOf(await send(node, "inference_request", { model_id: "fake", prompt: "p", max_tokens: 3, stream: true, resumable: true }));
  assert.ok(chunks.length > 0 && chunks.every((c) => c.token_ids === undefined && c.delivered_chars === undefined));
  await assert.rejects(
    send(node, "inference_request", { model_id: "fake", prompt: "p", max_tokens: 3, stream: true, resume: { generated_ids: [0], delivered_chars: 2 } }),
    (err: any) => err.code === "INVALID_REQUEST" && err.details.field === "resume",
  );
  await node.close();
});
