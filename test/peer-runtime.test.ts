// A peer runtime on the same models: transformers.js (Hugging Face's own JS runtime, which runs
// exported models in the Hugging Face ONNX layout) loads the model directories offline and
// decodes greedily. The example node must produce the same tokens over the wire — for the
// inference protocol (requests one at a time, and all at once so that they share batched runs)
// and for legacy steps — on a GPT-2-shaped model and on a Llama-shaped one (RoPE, RMSNorm,
// grouped-query attention: 2 key/value heads for 8 query heads). This checks the model export
// (layout, input/output names, KV cache, position ids, masks), our tokenizer use, and our batched
// decode loop together.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { dirname, basename, join } from "node:path";
import { AutoModelForCausalLM, AutoTokenizer, env, type PreTrainedTokenizer } from "@huggingface/transformers";
import type { ModelNode } from "@modelnode/core/server";
import { buildModel } from "@modelnode/model-builder";
import { TestClient } from "@modelnode/testing";
import { startNode } from "./support/node.js";
import { REPO_ROOT, TINY_MODEL_DIR } from "./support/paths.js";

const PROMPTS = ["Hello, world!", "Once upon a time", "a", "The quick brown fox jumps over the lazy dog. ".repeat(8), "Ünïcödé — 日本語 🙂", "0 1 2 3 4 5 6 7 8 9"];
const NEW_TOKENS = 16;
const LLAMA_DIR = join(REPO_ROOT, "models", "tiny-llama");

let node: ModelNode;
let url: string;

before(async () => {
  buildModel({ out: LLAMA_DIR, model: "tiny-llama", ifMissing: true });
  env.allowRemoteModels = false;
  env.localModelPath = `${dirname(TINY_MODEL_DIR)}/`;
  ({ node, url } = await startNode({ models: { "tiny-gpt2": TINY_MODEL_DIR, "tiny-llama": LLAMA_DIR } }));
});
after(() => node.close());

for (const [modelId, dir] of [
  ["tiny-gpt2", TINY_MODEL_DIR],
  ["tiny-llama", LLAMA_DIR],
] as const) {
  describe(`peer runtime parity: ${modelId}`, () => {
    let tokenizer: PreTrainedTokenizer;
    let peerModel: Awaited<ReturnType<typeof AutoModelForCausalLM.from_pretrained>>;
    const expected = new Map<string, number[]>();

    before(async () => {
      tokenizer = await AutoTokenizer.from_pretrained(basename(dir));
      peerModel = await AutoModelForCausalLM.from_pretrained(basename(dir), { dtype: "fp32" });
      for (const prompt of PROMPTS) {
        const inputs = tokenizer(prompt);
        const out = await peerModel.generate({ ...inputs, max_new_tokens: NEW_TOKENS, do_sample: false });
        expected.set(prompt, (out as { tolist(): bigint[][] }).tolist()[0].map(Number).slice(inputs.input_ids.dims[1]));
      }
    });

    const check = (prompt: string, reply: any) => {
      assert.equal(reply.header.message_type, "inference_response", JSON.stringify(reply));
      assert.equal(reply.text, tokenizer.decode(expected.get(prompt)!, { skip_special_tokens: true }), `prompt ${JSON.stringify(prompt.slice(0, 20))}`);
      assert.equal(reply.usage.prompt_tokens, tokenizer(prompt).input_ids.dims[1]);
      assert.equal(reply.usage.completion_tokens, NEW_TOKENS);
    };

    test("inference_request (temperature 0), one at a time, gives the peer's greedy text token for token", async () => {
      const client = await TestClient.connect(url);
      for (const prompt of PROMPTS) check(prompt, await client.call("inference_request", { model_id: modelId, prompt, max_tokens: NEW_TOKENS, temperature: 0 }));
      await client.close();
    });

    test("the same requests sent all at once (batched together, rows of different lengths) give the same text", async () => {
      const clients = await Promise.all(PROMPTS.map(() => TestClient.connect(url)));
      const replies = await Promise.all(
        PROMPTS.map((prompt, i) => clients[i].call("inference_request", { model_id: modelId, prompt, max_tokens: NEW_TOKENS, temperature: 0 })),
      );
      PROMPTS.forEach((prompt, i) => check(prompt, replies[i]));
      await Promise.all(clients.map((client) => client.close()));
    });

    test("legacy steps, fed back their own next token, walk the peer's greedy path", async () => {
      const client = await TestClient.connect(url);
      const prompt = "Hello, world!";
      const walked: number[] = [];
      let reply = await client.request({ session_id: `peer-${modelId}`, model_id: modelId, step: 0, input_tensors: { input_ids: prompt } });
      for (let step = 1; walked.length < 8; step++) {
        walked.push(reply.output_tensors.next_token_id);
        reply = await client.request({ session_id: `peer-${modelId}`, model_id: modelId, step, input_tensors: { input_ids: [reply.output_tensors.next_token_id] } });
      }
      assert.deepEqual(walked, expected.get(prompt)!.slice(0, 8));
      await client.close();
    });
  });
}
