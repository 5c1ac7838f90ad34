import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createOnnxPipeline, ModelLoadError, type PipelineLogger } from "../src/index.js";
import { copyTinyModel, ensureTinyModel } from "./helpers.js";

/** Asserts that loading `dir` fails with a ModelLoadError naming `file`. */
async function assertLoadFailsNaming(dir: string, file: string, reason: RegExp) {
  await assert.rejects(createOnnxPipeline({ models: { broken: dir } }), (error: unknown) => {
    assert.ok(error instanceof ModelLoadError, `expected ModelLoadError, got ${String(error)}`);
    assert.equal(error.file, file);
    assert.ok(error.message.includes(file), error.message);
    assert.match(error.message, reason);
    assert.match(error.message, /model "broken"/);
    return true;
  });
}

describe("loading models", () => {
  test("a good model loads, and its facts and load time are logged", async () => {
    const lines: { obj: object; msg?: string }[] = [];
    const record = (obj: object, msg?: string) => lines.push({ obj, msg });
    const logger: PipelineLogger = { info: record, warn: record, error: record, debug: record };
    const { dir, cleanup } = copyTinyModel();
    const pipeline = await createOnnxPipeline({ models: { a: ensureTinyModel(), b: dir }, threads: 2, logger });
    try {
      assert.deepEqual(pipeline.listModels().map((m) => m.id), ["a", "b"]);
      const loaded = lines.filter((l) => l.msg === "model loaded").map((l) => l.obj as Record<string, unknown>);
      assert.equal(loaded.length, 2);
      assert.equal(loaded[0].layers, 2);
      assert.equal(loaded[0].threads, 2);
      assert.equal(typeof loaded[0].loadMs, "number");
      // Both models answer independently.
      const [x, y] = await Promise.all(["a", "b"].map((modelId) => pipeline.generate({ modelId, prompt: "Hi", maxTokens: 5 })));
      assert.equal(x.text, y.text);
    } finally {
      await pipeline.close();
      cleanup();
    }
  });

  test("ids naming one folder are aliases: loaded once, listed with aliasOf, sharing sessions", async () => {
    const lines: { obj: object; msg?: string }[] = [];
    const record = (obj: object, msg?: string) => lines.push({ obj, msg });
    const logger: PipelineLogger = { info: record, warn: record, error: record, debug: record };
    const pipeline = await createOnnxPipeline({ models: { "tiny-gpt2": ensureTinyModel(), test_model: `${ensureTinyModel()}/.` }, logger });
    try {
      assert.equal(lines.filter((l) => l.msg === "model loaded").length, 1, "one folder, one load");
      const [main, alias] = pipeline.listModels();
      assert.equal(main.id, "tiny-gpt2");
      assert.equal(main.aliasOf, undefined);
      assert.deepEqual({ id: alias.id, aliasOf: alias.aliasOf, contextLength: alias.contextLength }, { id: "test_model", aliasOf: "tiny-gpt2", contextLength: main.contextLength });
      assert.ok(pipeline.hasModel("test_model"));
      const [x, y] = await Promise.all(["tiny-gpt2", "test_model"].map((modelId) => pipeline.generate({ modelId, prompt: "Hi", maxTokens: 5 })));
      assert.equal(x.text, y.text);
      // A step session started under one name continues under the other: it is one model.
      const first = await pipeline.step({ sessionId: "s", modelId: "tiny-gpt2", step: 0, inputIds: [1, 2, 3] });
      const next = await pipeline.step({ sessionId: "s", modelId: "test_model", step: 1, inputIds: [first.nextTokenId] });
      assert.equal(next.sequenceLength, 4);
    } finally {
      await pipeline.close();
    }
  });

  test("a missing directory is named", async () => {
    const { dir, cleanup } = copyTinyModel();
    try {
      await assertLoadFailsNaming(join(dir, "nowhere"), join(dir, "nowhere"), /does not exist/);
    } finally {
      cleanup();
    }
  });

  test("a missing config.json is named", async () => {
    const { dir, cleanup } = copyTinyModel();
    try {
      rmSync(join(dir, "config.json"));
      await assertLoadFailsNaming(dir, join(dir, "config.json"), /missing/);
    } finally {
      cleanup();
    }
  });

  test("a corrupt model.onnx is named", async () => {
    const { dir, cleanup } = copyTinyModel();
    try {
      writeFileSync(join(dir, "onnx", "model.onnx"), Buffer.from("this is not a protobuf model, just some text"));
      await assertLoadFailsNaming(dir, join(dir, "onnx", "model.onnx"), /ONNX Runtime cannot load it/);
    } finally {
      cleanup();
    }
  });

  test("a missing model.onnx is named", async () => {
    const { dir, cleanup } = copyTinyModel();
    try {
      rmSync(join(dir, "onnx"), { recursive: true });
      await assertLoadFailsNaming(dir, join(dir, "onnx", "model.onnx"), /missing/);
    } finally {
      cleanup();
    }
  });

  test("a tokenizer.json that is not JSON, or not a tokenizer, is named", async () => {
    const { dir, cleanup } = copyTinyModel();
    try {
      writeFileSync(join(dir, "tokenizer.json"), '{"model": {"type": "BPE", "vocab": ');
      await assertLoadFailsNaming(dir, join(dir, "tokenizer.json"), /not valid JSON/);
      writeFileSync(join(dir, "tokenizer.json"), JSON.stringify({ version: "1.0", model: { type: "NoSuchModel" } }));
      await assertLoadFailsNaming(dir, join(dir, "tokenizer.json"), /cannot build a tokenizer/);
    } finally {
      cleanup();
    }
  });

  test("options that cannot work are refused at startup", async () => {
    await assert.rejects(createOnnxPipeline({ models: {} }), /models/);
    await assert.rejects(createOnnxPipeline({ models: { a: ensureTinyModel() }, threads: 0 }), /threads/);
    await assert.rejects(createOnnxPipeline({ models: { a: ensureTinyModel() }, maxSessions: 1.5 }), /maxSessions/);
  });
});
