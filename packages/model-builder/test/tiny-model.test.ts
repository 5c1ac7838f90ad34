import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InferenceSession } from "onnxruntime-node";
import { buildTinyModel, isTinyModelCurrent, TINY_MODEL_BUILDER_VERSION } from "../src/index.js";
import { ensureTinyModel } from "./helpers.js";

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

