import { test } from "node:test";
import assert from "node:assert/strict";
import { DTYPE_SUFFIXES as ONNX_DTYPE_SUFFIXES } from "@modelnode/onnx";
import { DTYPE_SUFFIXES, selectDtypeFiles } from "@modelnode/hub";

test("the dtype → file-name table is @modelnode/onnx's (a copy, so that pulling needs no ONNX Runtime)", () => {
  assert.deepEqual(DTYPE_SUFFIXES, ONNX_DTYPE_SUFFIXES);
});

test("a dtype's files: its graph (onnx/ before the top level), every external data part, the support files present", () => {
  const repo = [
    "README.md",
    "config.json",
    "tokenizer.json",
    "chat_template.jinja",
    "model.safetensors",
    "onnx/model.onnx",
    "onnx/model.onnx_data",
    "onnx/model_q4f16.onnx",
    "onnx/model_q4f16.onnx_data",
    "onnx/model_q4f16.onnx_data_1",
    "onnx/model_q4.onnx",
    "model_q4f16.onnx",
  ];
  const q4f16 = selectDtypeFiles(repo, "q4f16");
  assert.ok(q4f16.ok);
  assert.deepEqual(q4f16.selection, {
    dtype: "q4f16",
    graph: "onnx/model_q4f16.onnx",
    paths: ["chat_template.jinja", "config.json", "onnx/model_q4f16.onnx", "onnx/model_q4f16.onnx_data", "onnx/model_q4f16.onnx_data_1", "tokenizer.json"],
  });
  const fp32 = selectDtypeFiles(repo, undefined);
  assert.ok(fp32.ok && fp32.selection.graph === "onnx/model.onnx");
  assert.deepEqual(selectDtypeFiles(repo, "bnb4"), { ok: false, available: ["fp32", "q4", "q4f16"] });
  // No fp32 graph and several others: no guess.
  assert.deepEqual(selectDtypeFiles(["onnx/model_q4.onnx", "onnx/model_fp16.onnx"], undefined), { ok: false, available: ["fp16", "q4"] });
  const only = selectDtypeFiles(["onnx/decoder_model_merged_quantized.onnx"], undefined);
  assert.ok(only.ok && only.selection.dtype === "q8");
});
