/**
 * The copy-friendly presets (Gpt2Spec.copyCycle): every position's greedy next token is the
 * successor of the token fed there, whatever came before, so greedy text walks a cycle of 16 ids
 * and repeats itself (what prompt lookup's bench needs).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { buildModel, MODEL_PRESETS } from "../src/index.js";
import { copySuccessors } from "../src/copy-successors.js";

test("copySuccessors: cycles of `cycle` ids, never the end-of-sequence id", () => {
  const next = copySuccessors(50257, 16);
  assert.deepEqual([next[0], next[1], next[15], next[16], next[31]], [1, 2, 0, 17, 16]);
  assert.ok(next.every((id) => id !== 50256 && id >= 0 && id < 50257));
  // From any id, 16 steps (after at most one step into a cycle) come back.
  for (const start of [5, 50256, 50250, 1234]) {
    let id = next[start];
    const first = id;
    for (let i = 0; i < 16; i++) id = next[id];
    assert.equal(id, first);
  }
  assert.throws(() => copySuccessors(100, 1), /copyCycle/);
});

test("copy-tiny-gpt2: the greedy next token at every position is the fed token's successor", async (t) => {
  const parent = mkdtempSync(join(tmpdir(), "modelnode-copy-model-"));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  const { dir } = buildModel({ out: join(parent, "copy"), model: "copy-tiny-gpt2" });
  const spec = MODEL_PRESETS["copy-tiny-gpt2"];
  const session = await InferenceSession.create(join(dir, "onnx/model.onnx"));
  t.after(() => session.release());
  const ids = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 50256, 3, 15];
  const n = ids.length;
  const empty = new Tensor("float32", new Float32Array(0), [1, spec.heads, 0, spec.hidden / spec.heads]);
  const feeds: Record<string, Tensor> = {
    input_ids: new Tensor("int64", BigInt64Array.from(ids, BigInt), [1, n]),
    attention_mask: new Tensor("int64", new BigInt64Array(n).fill(1n), [1, n]),
    position_ids: new Tensor("int64", BigInt64Array.from(ids, (_, i) => BigInt(i)), [1, n]),
  };
  for (let layer = 0; layer < spec.layers; layer++) for (const kind of ["key", "value"]) feeds[`past_key_values.${layer}.${kind}`] = empty;
  const logits = (await session.run(feeds)).logits.data as Float32Array;
  const next = copySuccessors(spec.vocabSize, spec.copyCycle);
  ids.forEach((id, i) => {
    const row = logits.subarray(i * spec.vocabSize, (i + 1) * spec.vocabSize);
    let best = 0;
    for (let v = 1; v < row.length; v++) if (row[v] > row[best]) best = v;
    assert.equal(best, next[id], `position ${i} (token ${id})`);
  });
});
