/** choiceRequests / streamChoices / generateChoices: OpenAI's `n` on any pipeline. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { choiceRequests, generateChoices, streamChoices, type ChoiceEvent, type GenerateRequest, type GenerationEvent } from "../src/index.js";

/** A pipeline whose stream says its request's seed, word by word, `words` times (or fails with `fail`). */
function fakePipeline(words = 2, fail?: (request: GenerateRequest) => Error | undefined) {
  const started: GenerateRequest[] = [];
  const returned: number[] = [];
  return {
    started,
    returned,
    stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
      started.push(request);
      return {
        async *[Symbol.asyncIterator]() {
          try {
            const error = fail?.(request);
            if (error) throw error;
            let text = "";
            for (let i = 0; i < words; i++) {
              await new Promise((resolve) => setImmediate(resolve));
              const piece = `s${request.seed}w${i} `;
              text += piece;
              yield { kind: "text", text: piece } as GenerationEvent;
            }
            yield { kind: "done", result: { text, finishReason: "length", usage: { promptTokens: 3, completionTokens: words } } } as GenerationEvent;
          } finally {
            returned.push(request.choice?.index ?? 0);
          }
        },
      };
    },
  };
}

test("choiceRequests: n = 1 is the request itself; n > 1 are copies in one group, seeded seed + index", () => {
  const request: GenerateRequest = { modelId: "m", prompt: "p", seed: 10 };
  assert.deepEqual(choiceRequests(request, 1), [request]);
  const three = choiceRequests(request, 3);
  assert.deepEqual(three.map((r) => [r.seed, r.choice?.index, r.choice?.group.size]), [[10, 0, 3], [11, 1, 3], [12, 2, 3]]);
  assert.equal(three[0].choice?.group, three[2].choice?.group);
  assert.equal(choiceRequests({ modelId: "m", prompt: "p" }, 2)[1].seed, undefined, "no seed: each choice's is the pipeline's own");
  assert.throws(() => choiceRequests(request, 0), RangeError);
});

test("streamChoices starts every choice at once and tags each event with its index; generateChoices gives results by index", async () => {
  const pipeline = fakePipeline();
  const events: ChoiceEvent[] = [];
  for await (const event of streamChoices(pipeline, { modelId: "m", prompt: "p", seed: 0 }, 3)) events.push(event);
  assert.equal(pipeline.started.length, 3);
  for (const index of [0, 1, 2]) {
    const own = events.filter((event) => event.index === index);
    assert.deepEqual(own.map((event) => event.kind), ["text", "text", "done"]);
    assert.deepEqual(own.filter((e) => e.kind === "text").map((e) => (e as { text: string }).text), [`s${index}w0 `, `s${index}w1 `]);
  }
  const results = await generateChoices(pipeline, { modelId: "m", prompt: "p", seed: 5 }, 2);
  assert.deepEqual(results.map((r) => r.text), ["s5w0 s5w1 ", "s6w0 s6w1 "]);
});

test("a choice that fails stops the others and throws; leaving early stops them all", async () => {
  const failing = fakePipeline(50, (request) => (request.choice?.index === 1 ? new Error("refused") : undefined));
  await assert.rejects(generateChoices(failing, { modelId: "m", prompt: "p", seed: 0 }, 3), /refused/);
  assert.deepEqual([...failing.returned].sort(), [0, 1, 2]);

  const pipeline = fakePipeline(50);
  for await (const event of streamChoices(pipeline, { modelId: "m", prompt: "p", seed: 0 }, 2)) {
    assert.equal(event.kind, "text");
    break;
  }
  assert.deepEqual([...pipeline.returned].sort(), [0, 1]);
});
