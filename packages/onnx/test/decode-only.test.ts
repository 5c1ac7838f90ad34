import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRandom } from "../src/shared/random.js";
import { TextTokenizer } from "../src/shared/text-tokenizer.js";
import { ensureTinyModel, loadTestModel } from "./helpers.js";

// The engine thread decodes with a packed byte-level vocabulary instead of the tokenizers
// library (a small heap makes its frequent garbage collections cheap); its text must be the
// library's, id for id and sequence for sequence.
describe("the engine's decode-only tokenizer", () => {
  let full: TextTokenizer;
  let packed: TextTokenizer;
  before(() => {
    const dir = ensureTinyModel();
    const json = (file: string) => JSON.parse(readFileSync(join(dir, file), "utf8"));
    const tokenizerJson = json("tokenizer.json");
    // An added token that is not special: literal text that ends a byte run.
    tokenizerJson.added_tokens.push({ id: 50257, content: "<note>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: false });
    full = new TextTokenizer(tokenizerJson, json("tokenizer_config.json"));
    packed = new TextTokenizer(tokenizerJson, json("tokenizer_config.json"), { decodeOnly: true });
  });

  test("every token decodes to the library's text, with and without special tokens", () => {
    for (let id = 0; id <= 50257; id++) {
      if (!full.addedToken(id)) assert.deepEqual(packed.tokenBytes(id), full.tokenBytes(id), `bytes of ${id}`);
      for (const skip of [false, true]) assert.equal(packed.decode([id], skip), full.decode([id], skip), `token ${id}, skip ${skip}`);
    }
  });

  test("sequences mixing split characters, special and added tokens decode as the library decodes them", () => {
    const pool = [...full.encode("日本語 ü 🙂 Ελληνικά ok, fine. <note>", false), 50256, 50257, 13, 0, 255, 220];
    const random = createRandom(7);
    for (let n = 0; n < 500; n++) {
      const ids = Array.from({ length: 1 + Math.floor(random() * 12) }, () => pool[Math.floor(random() * pool.length)]);
      for (const skip of [false, true]) assert.equal(packed.decode(ids, skip), full.decode(ids, skip), `ids ${ids}, skip ${skip}`);
    }
  });

  test("a tokenizer that is not plain byte-level keeps the library's decoding, without its merge table", () => {
    const dir = ensureTinyModel();
    const json = (file: string) => JSON.parse(readFileSync(join(dir, file), "utf8"));
    const tokenizerJson = json("tokenizer.json");
    tokenizerJson.decoder = { type: "Sequence", decoders: [tokenizerJson.decoder] }; // not the packed path
    const fullGeneric = new TextTokenizer(tokenizerJson, json("tokenizer_config.json"));
    const decodeOnly = new TextTokenizer(tokenizerJson, json("tokenizer_config.json"), { decodeOnly: true });
    assert.equal(decodeOnly.byteLevel, false);
    const random = createRandom(11);
    for (let n = 0; n < 300; n++) {
      const ids = Array.from({ length: 1 + Math.floor(random() * 10) }, () => Math.floor(random() * 50257));
      assert.equal(decodeOnly.decode(ids, false), fullGeneric.decode(ids, false), `ids ${ids}`);
    }
    assert.throws(() => decodeOnly.encode("hello", false), /only decodes/);
  });

  test("it refuses to encode, and the engine's models load it", async () => {
    assert.throws(() => packed.encode("hello", false), /only decodes/);
    const model = await loadTestModel("tiny-gpt2");
    assert.equal(model.tokenizer.decodeOnly, true);
    assert.throws(() => model.tokenizer.encode("hello", false), /only decodes/);
    await model.session.release();
  });
});
