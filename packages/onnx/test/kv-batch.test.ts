// Batched runs must give every row the logits it gets alone: rows of different lengths, rows that
// join and leave mid-stream, padding full of garbage. On a GPT-2-shaped and a Llama-shaped model
// (grouped-query attention: fewer key/value heads than query heads).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { LoadedModel } from "../src/engine/loaded-model.js";
import { KvBatch } from "../src/engine/kv-batch.js";
import { argmax } from "../src/engine/sampler.js";
import { createRandom } from "../src/shared/random.js";
import { loadTestModel, maxAbsDiff } from "./helpers.js";

const TOLERANCE = 1e-4;
const BASE = [15496, 995, 11, 428, 318, 257, 1332, 286, 262, 12696, 2746, 13, 383, 2068, 7586, 21831];
const promptOf = (length: number, salt: number) => Array.from({ length }, (_, i) => (BASE[i % BASE.length] + 97 * salt + i) % 50000);

interface Reference {
  prompt: number[];
  /** Greedy tokens, one per decode step. */
  tokens: number[];
  /** logits[0]: after the prompt; logits[i + 1]: after feeding tokens[i]. */
  logits: Float32Array[];
}

/** A row run alone: the prompt in one run, then `steps` greedy decode steps. */
async function alone(model: LoadedModel, prompt: number[], steps: number): Promise<Reference> {
  const batch = KvBatch.single<null>(model);
  let logits = (await batch.run(model.session, [{ ids: prompt }], true))![0];
  const reference: Reference = { prompt, tokens: [], logits: [Float32Array.from(logits)] };
  for (let i = 0; i < steps; i++) {
    const token = argmax(logits);
    reference.tokens.push(token);
    logits = (await batch.run(model.session, [{ ids: [token] }], true))![0];
    reference.logits.push(Float32Array.from(logits));
  }
  return reference;
}

/** A row in a batched run, following its reference: `at` is the next decode step it takes. */
interface Row {
  reference: Reference;
  at: number;
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  const diff = maxAbsDiff(actual, expected);
  assert.ok(diff < TOLERANCE, `${what}: max |Δlogit| = ${diff}`);
}

/** One batched decode step over `batch`, checking every owned row against its reference. */
async function decodeAndCheck(model: LoadedModel, batch: KvBatch<Row>, what: string): Promise<void> {
  const inputs = batch.owners.map((row) => ({ ids: [row ? row.reference.tokens[row.at] : 0] }));
  const logits = (await batch.run(model.session, inputs, true))!;
  batch.owners.forEach((row, slot) => {
    if (!row) return;
    row.at++;
    assertClose(logits[slot], row.reference.logits[row.at], `${what}, row ${slot} step ${row.at}`);
  });
}

/** Prefills `rows` together in one batched run (rows of different lengths) and checks their logits. */
async function prefillTogether(model: LoadedModel, rows: Row[]): Promise<KvBatch<Row>> {
  const batch = KvBatch.merge<Row>(model, rows.map((row) => ({ batch: KvBatch.single(model), row: 0, owner: row })));
  const logits = (await batch.run(model.session, rows.map((row) => ({ ids: row.reference.prompt })), true))!;
  rows.forEach((row, i) => assertClose(logits[i], row.reference.logits[0], `prefill row ${i}`));
  return batch;
}

for (const preset of ["tiny-gpt2", "tiny-llama"] as const) {
  describe(`batched runs equal solo runs (${preset})`, () => {
    let model: LoadedModel;
    before(async () => {
      model = await loadTestModel(preset);
    });
    after(() => model.session.release());

    test("the model under test", () => {
      const cache = model.signature.cache[0];
      const kvHeads = cache.emptyDims[1];
      if (preset === "tiny-llama") assert.ok(kvHeads < 8, `grouped-query attention: ${kvHeads} key/value heads for 8 query heads`);
      assert.ok(model.signature.hasAttentionMask && model.signature.hasPositionIds);
    });

    test("incremental decoding and chunked prefill give the logits of one whole run", async () => {
      const prompt = promptOf(80, 1);
      const whole = (await KvBatch.single(model).run(model.session, [{ ids: prompt }], true))![0];
      const incremental = KvBatch.single(model);
      await incremental.run(model.session, [{ ids: prompt.slice(0, 50) }], false);
      let logits: Float32Array | undefined;
      for (let i = 50; i < 80; i++) logits = (await incremental.run(model.session, [{ ids: [prompt[i]] }], true))![0];
      assertClose(logits!, whole, "token by token after a 50-token prefill");
      const chunked = KvBatch.single(model);
      for (let i = 0; i < 80; i += 7) logits = (await chunked.run(model.session, [{ ids: prompt.slice(i, i + 7) }], true))![0];
      assertClose(logits!, whole, "7-token chunks");
      assert.equal(chunked.cacheBytes, 80 * model.cacheBytesPerToken);
    });

    test("copyRow: a copy shares nothing; the copy and the original go on apart (a choice group's rows)", async () => {
      const prompt = promptOf(9, 3);
      const [first, second] = [11, 12].map((token) => [...prompt, token]);
      const expected = await Promise.all([first, second].map(async (ids) => (await KvBatch.single(model).run(model.session, [{ ids }], true))![0].slice()));
      const original = KvBatch.single<null>(model);
      await original.run(model.session, [{ ids: prompt }], true);
      const copy = original.copyRow<null>(0);
      assert.notEqual(copy.tensors[0].data, original.tensors[0].data);
      const afterOriginal = (await original.run(model.session, [{ ids: [11] }], true))![0].slice();
      const afterCopy = (await copy.run(model.session, [{ ids: [12] }], true))![0];
      assertClose(afterOriginal, expected[0], "the original");
      assertClose(afterCopy, expected[1], "the copy");
    });

    test("rows of different lengths prefilled and decoded together", async () => {
      const references = await Promise.all([3, 17, 40, 1].map((length, i) => alone(model, promptOf(length, i), 10)));
      const batch = await prefillTogether(model, references.map((reference) => ({ reference, at: 0 })));
      for (let step = 0; step < 10; step++) await decodeAndCheck(model, batch, "decode");
    });

    test("rows join (in a free slot and by rebuilding) and leave mid-stream", async () => {
      const [a, b, c, d] = await Promise.all([5, 12, 30, 2].map((length, i) => alone(model, promptOf(length, i + 10), 16)));
      // a and b are prefilled alone, then merged (compacted, left-padded) into one batch.
      const soloA = KvBatch.single<Row>(model, { reference: a, at: 0 });
      const soloB = KvBatch.single<Row>(model, { reference: b, at: 0 });
      await soloA.run(model.session, [{ ids: a.prompt }], true);
      await soloB.run(model.session, [{ ids: b.prompt }], true);
      let batch = KvBatch.merge<Row>(model, [
        { batch: soloA, row: 0, owner: soloA.owners[0] },
        { batch: soloB, row: 0, owner: soloB.owners[0] },
      ]);
      for (let step = 0; step < 3; step++) await decodeAndCheck(model, batch, "a+b");

      // c, longer than the batch is wide, joins by rebuilding.
      const soloC = KvBatch.single<Row>(model, { reference: c, at: 0 });
      await soloC.run(model.session, [{ ids: c.prompt }], true);
      batch = KvBatch.merge<Row>(model, [
        ...batch.owners.map((owner, row) => ({ batch, row, owner })),
        { batch: soloC, row: 0, owner: soloC.owners[0] },
      ]);
      for (let step = 0; step < 3; step++) await decodeAndCheck(model, batch, "a+b+c");

      // a leaves: its slot is freed (still run, ignored) for a step, then d takes it in place.
      batch.owners[0] = null;
      await decodeAndCheck(model, batch, "b+c, a's slot free");
      const soloD = KvBatch.single<Row>(model, { reference: d, at: 0 });
      await soloD.run(model.session, [{ ids: d.prompt }], true);
      batch.placeRow(0, { batch: soloD, row: 0 }, soloD.owners[0]!);
      for (let step = 0; step < 3; step++) await decodeAndCheck(model, batch, "d+b+c");

      // b leaves for good: the last row moves into its slot.
      batch.owners[1] = null;
      batch.removeRow(1);
      assert.equal(batch.size, 2);
      for (let step = 0; step < 3; step++) await decodeAndCheck(model, batch, "d+c");
      // A narrower rebuild drops padding columns nobody needs.
      const narrower = KvBatch.merge<Row>(model, batch.owners.map((owner, row) => ({ batch, row, owner })));
      assert.ok(narrower.columns <= batch.columns);
      await decodeAndCheck(model, narrower, "d+c rebuilt");
    });

    test("garbage in masked cache columns changes nothing: the mask really applies", async () => {
      const references = await Promise.all([2, 9, 21].map((length, i) => alone(model, promptOf(length, i + 20), 6)));
      const batch = await prefillTogether(model, references.map((reference) => ({ reference, at: 0 })));
      await decodeAndCheck(model, batch, "before");
      const random = createRandom(7);
      let garbage = 0;
      for (const tensor of batch.tensors) {
        const [rows, heads, columns, headDim] = tensor.dims;
        const data = tensor.data as Float32Array;
        for (let row = 0; row < rows; row++) {
          const mask = batch.maskOf(row);
          for (let h = 0; h < heads; h++) {
            for (let column = 0; column < columns; column++) {
              if (mask[column] === 1) continue;
              const at = ((row * heads + h) * columns + column) * headDim;
              for (let i = 0; i < headDim; i++) data[at + i] = (random() - 0.5) * 2000;
              garbage++;
            }
          }
        }
      }
      assert.ok(garbage > 0, "the batch has masked columns to fill");
      for (let step = 0; step < 5; step++) await decodeAndCheck(model, batch, "after filling padding with garbage");
    });

    test("tokens sent with mask 0 are hidden, as if they were not there", async () => {
      const prompt = promptOf(16, 30);
      const plain = (await KvBatch.single(model).run(model.session, [{ ids: prompt }], true))![0];
      const padded = (await KvBatch.single(model).run(model.session, [{ ids: [50256, 7, 50256, ...prompt], mask: [0, 0, 0, ...prompt.map(() => 1)] }], true))![0];
      assertClose(padded, plain, "left-padded input");
    });
  });
}

describe("the tiny model's text", () => {
  test("greedy continuations depend on the prompt (the model does not emit one token forever)", async () => {
    const model = await loadTestModel("tiny-gpt2");
    try {
      const a = await alone(model, [15496, 995], 12);
      const b = await alone(model, [464, 2068, 7586, 21831], 12);
      assert.notDeepEqual(a.tokens, b.tokens);
      assert.ok(new Set(a.tokens).size > 4, `greedy output ${a.tokens} barely varies`);
    } finally {
      await model.session.release();
    }
  });
});
