import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InferenceSession } from "onnxruntime-node";
import { buildTinyModel, isTinyModelCurrent, TINY_MODEL_BUILDER_VERSION } from "../scripts/build-tiny-model.js";
import { loadModel, type LoadedModel } from "../src/loaded-model.js";
import { silentLogger } from "../src/logger.js";
import { RunQueue } from "../src/scheduler.js";
import { Sequence } from "../src/sequence.js";
import { argmax } from "../src/sampler.js";
import { ensureTinyModel } from "./helpers.js";

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe("tiny model builder", () => {
  const scratch = mkdtempSync(join(tmpdir(), "modelnode-tiny-"));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test("writes the Hugging Face layout, deterministically, and --if-missing skips a current copy", () => {
    const a = join(scratch, "a");
    const b = join(scratch, "b");
    assert.equal(buildTinyModel({ out: a }).built, true);
    assert.equal(buildTinyModel({ out: b }).built, true);
    for (const file of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "onnx/model.onnx"]) {
      assert.ok(readFileSync(join(a, file)).equals(readFileSync(join(b, file))), `${file} differs between two builds`);
    }
    const config = JSON.parse(readFileSync(join(a, "config.json"), "utf8"));
    assert.equal(config.model_type, "gpt2");
    assert.equal(config.vocab_size, 50257);
    assert.equal(config.eos_token_id, 50256);
    assert.equal(config.use_cache, true);
    const size = readFileSync(join(a, "onnx/model.onnx")).length;
    assert.ok(size > 1e6 && size < 20e6, `model.onnx is ${size} bytes`);

    assert.equal(buildTinyModel({ out: a, ifMissing: true }).built, false);
    // A copy stamped by another builder version is stale and gets rebuilt.
    writeFileSync(join(a, "config.json"), JSON.stringify({ ...config, modelnode_builder_version: TINY_MODEL_BUILDER_VERSION - 1 }));
    assert.equal(isTinyModelCurrent(a), false);
    assert.equal(buildTinyModel({ out: a, ifMissing: true }).built, true);
    assert.equal(isTinyModelCurrent(a), true);
  });

  test("the graph has the Hugging Face causal-LM inputs and outputs with named dynamic dims", async () => {
    const session = await InferenceSession.create(join(ensureTinyModel(), "onnx/model.onnx"));
    try {
      assert.deepEqual(session.inputNames, [
        "input_ids",
        "attention_mask",
        "position_ids",
        "past_key_values.0.key",
        "past_key_values.0.value",
        "past_key_values.1.key",
        "past_key_values.1.value",
      ]);
      assert.deepEqual(session.outputNames, ["logits", "present.0.key", "present.0.value", "present.1.key", "present.1.value"]);
      const shape = (list: readonly InferenceSession.ValueMetadata[], name: string) => {
        const meta = list.find((m) => m.name === name)!;
        return meta.isTensor ? meta.shape : [];
      };
      assert.deepEqual(shape(session.inputMetadata, "input_ids"), ["batch_size", "sequence_length"]);
      assert.deepEqual(shape(session.inputMetadata, "attention_mask"), ["batch_size", "total_sequence_length"]);
      assert.deepEqual(shape(session.inputMetadata, "past_key_values.0.key"), ["batch_size", 4, "past_sequence_length", 8]);
      assert.deepEqual(shape(session.outputMetadata, "logits"), ["batch_size", "sequence_length", 50257]);
      assert.deepEqual(shape(session.outputMetadata, "present.1.value"), ["batch_size", 4, "total_sequence_length", 8]);
    } finally {
      await session.release();
    }
  });
});

describe("KV cache", () => {
  let model: LoadedModel;
  const queue = new RunQueue();
  before(async () => {
    model = await loadModel("tiny", ensureTinyModel(), { threads: 1, sessionOptions: {}, logger: silentLogger });
  });
  after(() => model.session.release());

  const tokens = [15496, 995, 11, 428, 318, 257, 1332, 286, 262, 12696, 2746, 13, 383, 2068, 7586, 21831];

  test("incremental decoding with the cache gives the logits of a full uncached run", async () => {
    const long = Array.from({ length: 80 }, (_, i) => tokens[i % tokens.length] + i);
    const uncached = new Sequence(model, queue, 1024);
    const full = Float32Array.from(await uncached.forward(long));

    const cached = new Sequence(model, queue, 1024);
    await cached.forward(long.slice(0, 50));
    let logits: Float32Array | undefined;
    for (const id of long.slice(50)) logits = await cached.forward([id]);
    assert.equal(cached.length, long.length);
    assert.equal(cached.cacheBytes, 80 * 512);
    assert.ok(maxAbsDiff(full, logits!) < 1e-4, `max diff ${maxAbsDiff(full, logits!)}`);
    assert.equal(argmax(full), argmax(logits!));
  });

  test("a prompt fed in chunks gives the same logits as one prefill", async () => {
    const whole = Float32Array.from(await new Sequence(model, queue, 1024).forward(tokens));
    const chunked = await new Sequence(model, queue, 3).forward(tokens);
    assert.ok(maxAbsDiff(whole, chunked) < 1e-4);
  });

  test("left padding hidden by the attention mask does not change the logits", async () => {
    const plain = Float32Array.from(await new Sequence(model, queue, 1024).forward(tokens));
    const padded = await new Sequence(model, queue, 1024).forward([50256, 50256, 50256, ...tokens], {
      mask: [0, 0, 0, ...tokens.map(() => 1)],
    });
    assert.ok(maxAbsDiff(plain, padded) < 1e-4, `max diff ${maxAbsDiff(plain, padded)}`);
  });

  test("greedy continuations depend on the prompt (the model does not emit one token forever)", async () => {
    const continuation = async (prompt: number[]) => {
      const sequence = new Sequence(model, queue, 1024);
      let logits = await sequence.forward(prompt);
      const out: number[] = [];
      for (let i = 0; i < 12; i++) {
        out.push(argmax(logits));
        logits = await sequence.forward([out[i]]);
      }
      return out;
    };
    const a = await continuation([15496, 995]);
    const b = await continuation([464, 2068, 7586, 21831]);
    assert.notDeepEqual(a, b);
    assert.ok(new Set(a).size > 4, `greedy output ${a} barely varies`);
  });
});
