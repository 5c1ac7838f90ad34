import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { InferenceSession } from "onnxruntime-node";
import { MODEL_PRESETS } from "../src/index.js";
import { ensureTinyModel } from "./helpers.js";

/** The package's bin (a committed shim over dist/src/cli.js), as npm links it. */
const BIN = fileURLToPath(new URL("../../bin/modelnode-build-model.js", import.meta.url));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("modelnode-build-model", () => {
  const scratch = mkdtempSync(join(tmpdir(), "modelnode-builder-cli-"));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test("--help exits 0 and lists the options, the dtypes and every preset", () => {
    const { code, stdout, stderr } = cli("--help");
    assert.equal(code, 0, stderr);
    for (const option of ["--preset", "--out", "--dtype", "--external-data", "--tokenizer", "--seed", "--force", "--if-missing", "--help"]) {
      assert.match(stdout, new RegExp(`^  (-h, )?${option}\\b`, "m"), `--help lists ${option}`);
    }
    for (const file of ["model.onnx", "model_fp16.onnx", "model_quantized.onnx", "model_uint8.onnx", "model_q4.onnx", "model_q4f16.onnx"]) {
      assert.ok(stdout.includes(`onnx/${file}`), `--help names ${file}`);
    }
    for (const preset of Object.keys(MODEL_PRESETS)) assert.match(stdout, new RegExp(`^  ${preset} `, "m"), `--help lists preset ${preset}`);
    assert.equal(cli("-h").stdout, stdout);
  });

  test("usage mistakes exit 2 with a message that names them", () => {
    const cases: [string[], RegExp][] = [
      [["--out", join(scratch, "x"), "--bogus"], /unknown argument "--bogus"/],
      [["--out", join(scratch, "x"), "--preset", "gpt5"], /unknown preset "gpt5"; presets: tiny-gpt2, /],
      [["--out", join(scratch, "x"), "--dtype", "fp32,bf16"], /unknown dtype "bf16"; dtypes: fp32, fp16, q8, uint8, q4, q4f16/],
      [["--preset", "tiny-llama"], /--out <dir> is required/],
      [["--out"], /--out needs a value/],
      [["--out", join(scratch, "x"), "--seed", "-1"], /--seed must be a whole number/],
      [["--out", join(scratch, "x"), "--force", "--if-missing"], /--force and --if-missing/],
      [["--out", join(scratch, "x"), "--preset", "tiny-llama3"], /tiny-llama3 has no tokenizer files of its own.*--tokenizer/],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = cli(...args);
      assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
      assert.match(stderr, message);
      assert.equal(stdout, "");
    }
  });

  test("builds a preset with the dtypes asked, under transformers.js's names, and each graph loads in onnxruntime-node", async () => {
    const out = join(scratch, "tiny-llama");
    const { code, stderr } = cli("--preset", "tiny-llama", "--out", out, "--dtype", "fp32,fp16", "--dtype", "q4", "--external-data", "--seed", "7");
    assert.equal(code, 0, stderr);
    assert.match(stderr, /built model tiny-llama/);
    assert.deepEqual(readdirSync(join(out, "onnx")).sort(), [
      "model.onnx",
      "model.onnx_data",
      "model_fp16.onnx",
      "model_fp16.onnx_data",
      "model_q4.onnx",
      "model_q4.onnx_data",
    ]);
    for (const file of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]) {
      assert.ok(readdirSync(out).includes(file), `${file} written`);
    }
    const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    assert.equal(config.model_type, "llama");
    assert.equal(config.modelnode_spec.seed, 7);
    assert.deepEqual(config.modelnode_spec.dtypes, ["fp32", "fp16", "q4"]);
    for (const file of ["model.onnx", "model_fp16.onnx", "model_q4.onnx"]) {
      const session = await InferenceSession.create(join(out, "onnx", file));
      try {
        assert.ok(session.inputNames.includes("input_ids"), file);
        assert.equal(session.outputNames[0], "logits", file);
      } finally {
        await session.release();
      }
    }

    // An existing folder: refused without --force, kept by --if-missing when current, replaced by --force.
    const again = cli("--preset", "tiny-llama", "--out", out);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists: --force replaces it, --if-missing keeps it/);
    const kept = cli("--preset", "tiny-llama", "--out", out, "--dtype", "fp32,fp16,q4", "--external-data", "--seed", "7", "--if-missing");
    assert.equal(kept.code, 0, kept.stderr);
    assert.equal(kept.stderr, "", "nothing rebuilt");
    const replaced = cli("--preset", "tiny-llama", "--out", out, "--force");
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.deepEqual(readdirSync(join(out, "onnx")), ["model.onnx"]);
  });

  test("a folder that holds something else than a model is never replaced, whatever the flags", () => {
    const precious = join(scratch, "precious");
    mkdirSync(precious);
    writeFileSync(join(precious, "notes.txt"), "keep me");
    for (const flags of [[], ["--force"], ["--if-missing"]]) {
      const { code, stderr } = cli("--out", precious, ...flags);
      assert.equal(code, 1, flags.join(" "));
      assert.match(stderr, /holds no model \(no config\.json\): not replacing it/);
    }
    assert.deepEqual(readdirSync(precious), ["notes.txt"]);
    assert.equal(readFileSync(join(precious, "notes.txt"), "utf8"), "keep me");
  });

  test("--tokenizer copies a tokenizer folder in place of GPT-2's, and refuses one whose ids do not fit the vocabulary", () => {
    const source = join(scratch, "tokenizer-source");
    mkdirSync(source);
    const tiny = ensureTinyModel();
    for (const file of ["tokenizer.json", "tokenizer_config.json"]) writeFileSync(join(source, file), readFileSync(join(tiny, file)));
    writeFileSync(join(source, "chat_template.jinja"), "{% for m in messages %}{{ m.content }}{% endfor %}");
    const out = join(scratch, "own-tokenizer");
    const { code, stderr } = cli("--out", out, "--tokenizer", source);
    assert.equal(code, 0, stderr);
    assert.deepEqual(readdirSync(out).sort(), ["chat_template.jinja", "config.json", "generation_config.json", "onnx", "tokenizer.json", "tokenizer_config.json"]);
    assert.ok(readFileSync(join(out, "tokenizer.json")).equals(readFileSync(join(source, "tokenizer.json"))));

    const large = join(scratch, "large-tokenizer.json");
    writeFileSync(large, JSON.stringify({ model: { type: "BPE", vocab: { a: 0, b: 1 } }, added_tokens: [{ id: 128000, content: "<s>" }] }));
    const refused = cli("--out", join(scratch, "too-large"), "--tokenizer", large);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /ids up to 128000, past the model's vocabulary of 50257/);
    assert.deepEqual(readdirSync(scratch).filter((name) => name.startsWith("too-large")), [], "nothing written");
  });
});
