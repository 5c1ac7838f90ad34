// The sampling surface of the example node, end to end: the official openai SDK (and a WebSocket
// client) against the real ONNX pipeline on the bundled tiny model. Log probabilities are checked
// against a log-softmax computed here from a bare onnxruntime-node run of the same graph; n
// choices, penalties and the bias against what single requests give; bad values against
// OpenAI's error shape.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { InferenceSession, Tensor } from "onnxruntime-node";
import OpenAI from "openai";
import { PIPELINE } from "@modelnode/core";
import type { ModelNode } from "@modelnode/core/server";
import { TestClient } from "@modelnode/testing";
import { eventuallyIdle, pipelineStats, startNode } from "./support/node.js";
import { TINY_MODEL_DIR } from "./support/paths.js";

let node: ModelNode;
let url: string;
let openai: OpenAI;
let session: InferenceSession;

before(async () => {
  let port: number;
  ({ node, url, port } = await startNode({ nodeId: "e2e-openai-sampling" }));
  openai = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "x", maxRetries: 0 });
  session = await InferenceSession.create(join(TINY_MODEL_DIR, "onnx", "model.onnx"));
});
after(async () => {
  await node.close();
  await session.release();
});

const model = "tiny-gpt2";
const promptIds = async (text: string) => (await node.container.resolve(PIPELINE).tokenize(model, text)).ids;

/** log softmax(logits / temperature) after `ids`, from one bare run of the graph (whole sequence, empty cache). */
async function bareLogSoftmax(ids: number[], adjust: (logits: Float32Array) => void = () => {}, temperature = 1): Promise<number[]> {
  const n = ids.length;
  const feeds: Record<string, Tensor> = {
    input_ids: new Tensor("int64", BigInt64Array.from(ids, BigInt), [1, n]),
    attention_mask: new Tensor("int64", new BigInt64Array(n).fill(1n), [1, n]),
    position_ids: new Tensor("int64", BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), [1, n]),
  };
  for (const name of session.inputNames.filter((input) => input.startsWith("past_key_values."))) {
    const meta = session.inputMetadata.find((m) => m.name === name);
    const shape = meta?.isTensor ? meta.shape : [];
    feeds[name] = new Tensor("float32", new Float32Array(0), [1, Number(shape[1]), 0, Number(shape[3])]);
  }
  const output = (await session.run(feeds)).logits;
  const vocab = output.dims[2];
  const logits = (output.data as Float32Array).slice((n - 1) * vocab, n * vocab);
  adjust(logits);
  const scaled = Array.from(logits, (v) => v / temperature);
  const max = Math.max(...scaled);
  const logSum = Math.log(scaled.reduce((sum, v) => sum + Math.exp(v - max), 0));
  return scaled.map((v) => v - max - logSum);
}

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-4, `${what}: ${actual} vs ${expected}`);

test("completions logprobs (greedy): each token's is the log-softmax of the bare model's logits, top_logprobs the likeliest; streamed the same", async () => {
  const prompt = "Hello, world!";
  const completion = await openai.completions.create({ model, prompt, max_tokens: 8, logprobs: 3 });
  const logprobs = completion.choices[0].logprobs!;
  assert.equal(logprobs.tokens!.length, completion.usage!.completion_tokens);
  const context = await promptIds(prompt);
  let offset = 0;
  for (let i = 0; i < logprobs.tokens!.length; i++) {
    const expected = await bareLogSoftmax(context);
    const ranked = expected.map((lp, id) => [lp, id]).sort((a, b) => b[0] - a[0]);
    const [bestLogprob, best] = ranked[0];
    close(logprobs.token_logprobs![i], bestLogprob, `token ${i}`);
    const top = logprobs.top_logprobs![i];
    assert.ok(Object.keys(top).length >= 1 && Object.keys(top).length <= 4, JSON.stringify(top));
    for (const [lp] of ranked.slice(0, 3)) assert.ok(Object.values(top).some((value) => Math.abs(value - lp) < 1e-4), `alternative ${lp} in ${JSON.stringify(top)}`);
    assert.equal(logprobs.text_offset![i], offset);
    offset += logprobs.tokens![i].length;
    context.push(best);
  }

  const stream = await openai.completions.create({ model, prompt, max_tokens: 8, logprobs: 3, stream: true });
  const streamed: number[] = [];
  const offsets: number[] = [];
  for await (const chunk of stream) {
    streamed.push(...(chunk.choices[0]?.logprobs?.token_logprobs ?? []));
    offsets.push(...(chunk.choices[0]?.logprobs?.text_offset ?? []));
  }
  assert.deepEqual(streamed, logprobs.token_logprobs);
  assert.deepEqual(offsets, logprobs.text_offset);
});

test("sampled with penalties and bias: the logprob is the log-softmax of the adjusted bare logits over the temperature", async () => {
  const prompt = "The weather today";
  const body = { model, prompt, max_tokens: 6, temperature: 0.7, seed: 3, presence_penalty: 0.4, frequency_penalty: 0.6, logit_bias: { "11": 3, "13": -2 }, logprobs: 0 };
  const completion = await openai.completions.create(body);
  const context = await promptIds(prompt);
  const generated: number[] = [];
  const { tokens, token_logprobs } = completion.choices[0].logprobs!;
  for (let i = 0; i < tokens!.length; i++) {
    const expected = await bareLogSoftmax(
      [...context, ...generated],
      (logits) => {
        for (const id of new Set(generated)) logits[id] -= 0.6 * generated.filter((g) => g === id).length + 0.4;
        logits[11] += 3;
        logits[13] -= 2;
      },
      0.7,
    );
    // Which id was drawn: the one whose log probability the reply says (ties are vanishingly unlikely).
    const id = expected.findIndex((lp) => Math.abs(lp - token_logprobs![i]) < 1e-4);
    assert.ok(id >= 0, `token ${i} (${JSON.stringify(tokens![i])}): no id has logprob ${token_logprobs![i]}`);
    generated.push(id);
  }
  const again = await openai.completions.create(body);
  assert.deepEqual(again.choices[0].logprobs, completion.choices[0].logprobs, "the same seed gives the same tokens and numbers");
});

test("chat logprobs: content[] with token, logprob, bytes and top_logprobs; the same whole and streamed", async () => {
  const messages = [{ role: "user" as const, content: "Say something." }];
  const chat = await openai.chat.completions.create({ model, messages, max_tokens: 10, logprobs: true, top_logprobs: 2 });
  const content = chat.choices[0].logprobs!.content!;
  assert.equal(content.length, chat.usage!.completion_tokens);
  const decoded = new TextDecoder().decode(Uint8Array.from(content.flatMap((entry) => entry.bytes!)));
  assert.equal(decoded, chat.choices[0].message.content, "the tokens' bytes are the text");
  for (const entry of content) {
    assert.equal(entry.top_logprobs.length, 2);
    assert.ok(entry.top_logprobs[0].logprob >= entry.top_logprobs[1].logprob);
    assert.equal(entry.top_logprobs[0].token, entry.token, "greedy: the chosen token is the likeliest");
    assert.equal(entry.top_logprobs[0].logprob, entry.logprob);
  }
  const stream = await openai.chat.completions.create({ model, messages, max_tokens: 10, logprobs: true, top_logprobs: 2, stream: true });
  const streamed: OpenAI.Chat.ChatCompletionTokenLogprob[] = [];
  for await (const chunk of stream) streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
  assert.deepEqual(streamed, content);
});

test("n = 3: three choices, each its index, finish_reason and the text of n = 1 with seed + index; one prefill; usage summed", async () => {
  const body = { model, prompt: "Once upon a time", max_tokens: 10, temperature: 1, seed: 100 };
  const prefills = pipelineStats(node).prefillRows;
  const three = await openai.completions.create({ ...body, n: 3 });
  assert.equal(pipelineStats(node).prefillRows - prefills, 1, "the prompt is prefilled once for the three");
  assert.deepEqual(three.choices.map((c) => c.index), [0, 1, 2]);
  const singles = await Promise.all([0, 1, 2].map((i) => openai.completions.create({ ...body, seed: 100 + i })));
  assert.deepEqual(three.choices.map((c) => [c.text, c.finish_reason]), singles.map((s) => [s.choices[0].text, s.choices[0].finish_reason]));
  assert.equal(new Set(three.choices.map((c) => c.text)).size, 3);
  assert.deepEqual(three.usage, { prompt_tokens: singles[0].usage!.prompt_tokens, completion_tokens: 30, total_tokens: singles[0].usage!.prompt_tokens + 30 });

  const stream = await openai.chat.completions.create({ model, messages: [{ role: "user", content: "Hi" }], max_tokens: 6, temperature: 1, seed: 5, n: 3, stream: true });
  const texts = ["", "", ""];
  const finished = new Set<number>();
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      texts[choice.index] += choice.delta.content ?? "";
      if (choice.finish_reason) finished.add(choice.index);
    }
  }
  assert.equal(finished.size, 3);
  for (let i = 0; i < 3; i++) {
    const single = await openai.chat.completions.create({ model, messages: [{ role: "user", content: "Hi" }], max_tokens: 6, temperature: 1, seed: 5 + i });
    assert.equal(texts[i], single.choices[0].message.content, `choice ${i}`);
  }
  await eventuallyIdle(node);
});

test("penalties change greedy output, deterministically; a bias of -100 bans a token", async () => {
  const body = { model, prompt: "Once upon a time", max_tokens: 16, logprobs: 0 };
  const plain = await openai.completions.create(body);
  // Greedy decoding of the random-weights model repeats nothing by itself: rewarding repeats shows the penalty.
  const rewarded = await openai.completions.create({ ...body, frequency_penalty: -2, presence_penalty: -2 });
  const again = await openai.completions.create({ ...body, frequency_penalty: -2, presence_penalty: -2 });
  assert.notEqual(rewarded.choices[0].text, plain.choices[0].text);
  assert.equal(again.choices[0].text, rewarded.choices[0].text);
  // The reply names tokens by text: the pipeline says the id.
  const first = await node.container.resolve(PIPELINE).generate({ modelId: model, prompt: body.prompt, maxTokens: 1, logprobs: 0 });
  const firstId = first.logprobs![0].id;
  assert.equal(first.logprobs![0].token, plain.choices[0].logprobs!.tokens![0]);
  const banned = await openai.completions.create({ ...body, logit_bias: { [firstId]: -100 } });
  assert.notEqual(banned.choices[0].logprobs!.tokens![0], plain.choices[0].logprobs!.tokens![0]);
});

test("bad values: OpenAI-shaped 400s naming the param (the vocabulary check is the pipeline's)", async () => {
  const vocab = node.container.resolve(PIPELINE).listModels()[0].vocabSize;
  const cases: [Record<string, unknown>, string, string][] = [
    [{ logit_bias: { [vocab]: 5 } }, "logit_bias", "invalid_request"],
    [{ logit_bias: { "1": 150 } }, "logit_bias", "validation_failed"],
    [{ presence_penalty: 3 }, "presence_penalty", "validation_failed"],
    [{ frequency_penalty: "1" }, "frequency_penalty", "validation_failed"],
    [{ n: 9 }, "n", "validation_failed"],
    [{ logprobs: 21 }, "logprobs", "validation_failed"],
    [{ min_p: -0.1 }, "min_p", "validation_failed"],
  ];
  for (const [extra, param, code] of cases) {
    await assert.rejects(openai.completions.create({ model, prompt: "Hi", ...extra } as never), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `${JSON.stringify(extra)}: ${String(e)}`);
      assert.deepEqual([e.param, e.code, e.type], [param, code, "invalid_request_error"], JSON.stringify(extra));
      return true;
    });
  }
  await assert.rejects(openai.chat.completions.create({ model, messages: [{ role: "user", content: "Hi" }], top_logprobs: 3 }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.equal(e.param, "top_logprobs");
    return true;
  });
});

test("WebSocket: logprobs per inference_chunk and in the inference_response, the same as the OpenAI API's", async () => {
  const prompt = "Hello, world!";
  const client = await TestClient.connect(url);
  try {
    client.send({ header: { message_id: "lp-1", message_type: "inference_request", protocol_version: "2.0", timestamp: new Date().toISOString() }, model_id: model, prompt, max_tokens: 8, stream: true, logprobs: true, top_logprobs: 2 });
    const { chunks, final } = await client.untilFinal();
    assert.equal(final.header.message_type, "inference_response", JSON.stringify(final));
    assert.deepEqual(chunks.flatMap((chunk) => chunk.logprobs), final.logprobs);
    for (const chunk of chunks) {
      assert.equal(new TextDecoder().decode(Uint8Array.from(chunk.logprobs.flatMap((e: { bytes: number[] }) => e.bytes))), chunk.text);
    }
    const completion = await openai.completions.create({ model, prompt, max_tokens: 8, logprobs: 2 });
    assert.deepEqual(final.logprobs.map((e: { logprob: number }) => e.logprob), completion.choices[0].logprobs!.token_logprobs);
    assert.deepEqual(final.logprobs.map((e: { token: string }) => e.token), completion.choices[0].logprobs!.tokens);
    assert.ok(final.logprobs.every((e: { token_id: number; top_logprobs: { token_id: number }[] }) => e.top_logprobs.length === 2 && e.top_logprobs[0].token_id === e.token_id));
  } finally {
    await client.close();
  }
});
