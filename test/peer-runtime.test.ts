// A peer runtime on the same model: transformers.js (Hugging Face's own JS runtime, which runs
// exported models in the Hugging Face ONNX layout) loads the bundled model directory offline
// and decodes greedily. The example node must produce the same tokens over the wire — for the
// inference protocol and for legacy steps. This checks the model export (layout, input/output
// names, KV cache, position ids, masks), our tokenizer use, and our decode loop together.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { AutoModelForCausalLM, AutoTokenizer, env, type PreTrainedTokenizer } from "@huggingface/transformers";
import type { ModelNode } from "@modelnode/core";
import { TestClient } from "@modelnode/testing";
import { startNode } from "./support/node.js";
import { TINY_MODEL_DIR } from "./support/paths.js";
import { dirname, basename } from "node:path";

const PROMPTS = ["Hello, world!", "Once upon a time", "a", "The quick brown fox jumps over the lazy dog. ".repeat(8)];
const NEW_TOKENS = 16;

let node: ModelNode;
let url: string;
let tokenizer: PreTrainedTokenizer;
let peerModel: Awaited<ReturnType<typeof AutoModelForCausalLM.from_pretrained>>;

before(async () => {
  env.allowRemoteModels = false;
  env.localModelPath = `${dirname(TINY_MODEL_DIR)}/`;
  tokenizer = await AutoTokenizer.from_pretrained(basename(TINY_MODEL_DIR));
  peerModel = await AutoModelForCausalLM.from_pretrained(basename(TINY_MODEL_DIR), { dtype: "fp32" });
  ({ node, url } = await startNode());
});
after(() => node.close());

/** The peer's greedy continuation: token ids after the prompt. */
async function peerGreedy(prompt: string): Promise<number[]> {
  const inputs = tokenizer(prompt);
  const out = await peerModel.generate({ ...inputs, max_new_tokens: NEW_TOKENS, do_sample: false });
  const ids = (out as { tolist(): bigint[][] }).tolist()[0].map(Number);
  return ids.slice(inputs.input_ids.dims[1]);
}

test("inference_request (temperature 0) gives the peer runtime's greedy text, token for token", async () => {
  const client = await TestClient.connect(url);
  for (const prompt of PROMPTS) {
    const expected = await peerGreedy(prompt);
    const reply = await client.call("inference_request", { model_id: "tiny-gpt2", prompt, max_tokens: NEW_TOKENS, temperature: 0 });
    assert.equal(reply.header.message_type, "inference_response", JSON.stringify(reply));
    assert.equal(reply.text, tokenizer.decode(expected, { skip_special_tokens: true }), `prompt ${JSON.stringify(prompt.slice(0, 20))}`);
    assert.equal(reply.usage.prompt_tokens, tokenizer(prompt).input_ids.dims[1]);
    assert.equal(reply.usage.completion_tokens, NEW_TOKENS);
  }
  await client.close();
});

test("legacy steps, fed back their own next token, walk the peer runtime's greedy path", async () => {
  const client = await TestClient.connect(url);
  const prompt = "Hello, world!";
  const expected = await peerGreedy(prompt);
  const walked: number[] = [];
  let reply = await client.request({ session_id: "peer", step: 0, input_tensors: { input_ids: prompt } });
  for (let step = 1; walked.length < 8; step++) {
    walked.push(reply.output_tensors.next_token_id);
    reply = await client.request({ session_id: "peer", step, input_tensors: { input_ids: [reply.output_tensors.next_token_id] } });
  }
  assert.deepEqual(walked, expected.slice(0, 8));
  await client.close();
});
