import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { GenerationEvent, GenerationResult } from "@modelnode/core/pipeline";
import { GenerationRow } from "../src/engine/generation-row.js";
import { IncrementalDecoder } from "../src/shared/incremental-decoder.js";
import { createRandom } from "../src/shared/random.js";
import { ByteLevelTextStream, createTextStream } from "../src/shared/text-stream.js";
import type { LoadedModel } from "../src/engine/loaded-model.js";
import { StopSequenceMatcher } from "../src/engine/stop-sequences.js";
import { TextTokenizer } from "../src/shared/text-tokenizer.js";
import type { OnnxPipeline } from "../src/index.js";
import { ensureTinyModel, eventually, tinyPipeline } from "./helpers.js";

const REPLACEMENT = "\uFFFD";

describe("incremental decoding across split UTF-8 characters", () => {
  let tokenizer: TextTokenizer;
  before(() => {
    const dir = ensureTinyModel();
    const json = (file: string) => JSON.parse(readFileSync(join(dir, file), "utf8"));
    tokenizer = new TextTokenizer(json("tokenizer.json"), json("tokenizer_config.json"));
  });

  const decoders = {
    "byte-level stream": () => new ByteLevelTextStream(tokenizer),
    "generic incremental decoder": () => new IncrementalDecoder(tokenizer, tokenizer.encode("Prompt:", false)),
  };

  for (const [name, create] of Object.entries(decoders)) {
    test(`${name}: characters whose bytes span several tokens come out whole, never as U+FFFD`, () => {
      const text = "日本語 naïve 🙂 ok";
      const ids = tokenizer.encode(text, false);
      // The premise: some tokens hold only part of a character's bytes.
      const partial = ids.filter((id) => tokenizer.decode([id]).includes(REPLACEMENT));
      assert.ok(partial.length >= 4, `expected split characters, tokens: ${ids}`);

      const decoder = create();
      const pieces = ids.map((id) => decoder.push(id));
      pieces.push(decoder.flush());
      assert.equal(pieces.join(""), text);
      for (const piece of pieces) assert.ok(!piece.includes(REPLACEMENT), `piece ${JSON.stringify(piece)} has U+FFFD`);
      assert.ok(pieces.includes("日"), `pieces: ${JSON.stringify(pieces)}`);
    });

    test(`${name}: bytes that never complete a character come out as U+FFFD, not held forever`, () => {
      const [firstBytesOfRi] = tokenizer.encode("日", false); // a token with the first two of three bytes
      const decoder = create();
      assert.equal(decoder.push(firstBytesOfRi), "");
      const pieces = [decoder.push(tokenizer.encode(" a", false)[0]), decoder.flush()];
      assert.equal(pieces.join(""), `${REPLACEMENT} a`);
    });

    test(`${name}: streamed pieces always join to the tokenizer's own decoding`, () => {
      // Random sequences drawn from tokens that split characters, ordinary ones and EOS.
      const pool = [...tokenizer.encode("日本語 ü 🙂 Ελληνικά ok, fine.", false), 50256, 13, 0, 255];
      const random = createRandom(42);
      for (let trial = 0; trial < 200; trial++) {
        const ids = Array.from({ length: 1 + Math.floor(random() * 12) }, () => pool[Math.floor(random() * pool.length)]);
        const decoder = create();
        const streamed = ids.map((id) => decoder.push(id)).join("") + decoder.flush();
        assert.equal(streamed, tokenizer.decode(ids), `ids ${ids}`);
      }
    });
  }

  test("byte-level stream: long random token runs (whole characters, split ones, stray bytes) decode as the tokenizer does", () => {
    // Draws from the whole vocabulary and from the 256 single-byte tokens (many of them lone
    // UTF-8 lead or continuation bytes), so whole tokens keep meeting unfinished characters.
    const random = createRandom(7);
    for (let trial = 0; trial < 20; trial++) {
      const ids = Array.from({ length: 300 }, () => (random() < 0.5 ? Math.floor(random() * 256) : Math.floor(random() * 50257)));
      const decoder = new ByteLevelTextStream(tokenizer);
      const streamed = ids.map((id) => decoder.push(id)).join("") + decoder.flush();
      assert.equal(streamed, tokenizer.decode(ids), `trial ${trial}`);
    }
  });

  test("the tiny model's GPT-2 tokenizer takes the byte-level fast path", () => {
    assert.equal(tokenizer.byteLevel, true);
    assert.ok(createTextStream(tokenizer, []) instanceof ByteLevelTextStream);
  });

  /** Drives a generation row with scripted logits that force the given tokens (then EOS). */
  async function scriptedGeneration(script: number[], stop: string[] = []) {
    const model = { tokenizer, eosTokenIds: new Set([50256]), contextLength: 1024 } as unknown as LoadedModel;
    const events: GenerationEvent[] = [];
    const sink = { text: (text: string) => events.push({ kind: "text", text }), token: () => {}, done: (result: GenerationResult) => events.push({ kind: "done", result }), failed: (error: Error) => assert.fail(error) };
    const sampling = { temperature: 0, topK: 0, topP: 1, seed: 1 };
    const row = new GenerationRow(1, model, { promptIds: [15496], maxTokens: 50, stop, sampling }, sink);
    for (let position = 0; !row.done; position++) {
      const logits = new Float32Array(50257);
      logits[script[position] ?? 50256] = 1;
      row.accept(logits);
    }
    return events;
  }

  test("a generation row streams whole characters when tokens split them, and ends on EOS", async () => {
    const text = "日本語 🙂!";
    const events = await scriptedGeneration(tokenizer.encode(text, false));
    const done = events.at(-1) as Extract<GenerationEvent, { kind: "done" }>;
    const pieces = events.flatMap((e) => (e.kind === "text" ? [e.text] : []));
    assert.equal(done.result.text, text);
    assert.equal(pieces.join(""), text);
    for (const piece of pieces) assert.ok(!piece.includes(REPLACEMENT), `piece ${JSON.stringify(piece)} has U+FFFD`);
    assert.equal(done.result.finishReason, "stop");
    assert.equal(done.result.usage.completionTokens, tokenizer.encode(text, false).length);
  });

  test("a stop string made of a split character is found and not streamed", async () => {
    const events = await scriptedGeneration(tokenizer.encode("日本語 and more", false), ["語"]);
    const done = events.at(-1) as Extract<GenerationEvent, { kind: "done" }>;
    assert.equal(done.result.text, "日本");
    assert.equal(done.result.finishReason, "stop");
    assert.equal(events.flatMap((e) => (e.kind === "text" ? [e.text] : [])).join(""), "日本");
  });
});

describe("stop sequences while streaming", () => {
  const run = (stops: string[], parts: string[]) => {
    const matcher = new StopSequenceMatcher(stops);
    const emitted: string[] = [];
    let stopped = false;
    for (const part of parts) {
      const result = matcher.push(part);
      emitted.push(result.emit);
      if (result.stopped) {
        stopped = true;
        break;
      }
    }
    if (!stopped) emitted.push(matcher.finish());
    return { emitted, stopped, text: matcher.fullText, matched: matcher.matched };
  };

  test("text that may start a stop string is held until decided", () => {
    const { emitted, stopped, text } = run(["END"], ["abc E", "N", "D tail"]);
    assert.equal(stopped, true);
    assert.equal(text, "abc ");
    assert.deepEqual(emitted, ["abc ", "", ""]);
  });

  test("a false start is released once it cannot be a stop string", () => {
    const { emitted, stopped, text, matched } = run(["END"], ["abc E", "N", "x"]);
    assert.equal(stopped, false);
    assert.equal(matched, undefined);
    assert.equal(text, "abc ENx");
    assert.deepEqual(emitted, ["abc ", "", "ENx", ""]);
  });

  test("the earliest of several stop strings wins, also inside one piece", () => {
    const { stopped, text, matched } = run(["\n\n", "###"], ["one ### two\n\nthree"]);
    assert.equal(stopped, true);
    assert.equal(text, "one ");
    assert.equal(matched, "###", "the stop string that ended the text (GenerationResult.stopSequence)");
    assert.equal(run(["###", "\n\n"], ["one\n\ntwo ###"]).matched, "\n\n");
  });

  test("without stop strings every piece goes out as it comes", () => {
    const { emitted, stopped, text } = run([], ["ab", "", "c d", "é"]);
    assert.equal(stopped, false);
    assert.deepEqual(emitted, ["ab", "", "c d", "é", ""]);
    assert.equal(text, "abc dé");
  });

  test("held-back text is released at the end when no stop string completes", () => {
    const { emitted, text } = run(["STOP"], ["ab", "ST"]);
    assert.equal(text, "abST");
    assert.equal(emitted.join(""), "abST");
    assert.deepEqual(emitted, ["ab", "", "ST"]);
  });
});

describe("streaming into a slow consumer", () => {
  let pipeline: OnnxPipeline;
  before(async () => {
    pipeline = await tinyPipeline();
  });
  after(() => pipeline.close());

  test("breaking out of the stream early frees the generation and its cache", async () => {
    let pieces = 0;
    for await (const event of pipeline.stream({ modelId: "tiny", prompt: "Hello", maxTokens: 50 })) {
      if (event.kind === "text" && ++pieces === 3) break;
    }
    assert.equal(pieces, 3);
    // Leaving the loop cancels the generation; the engine frees it within a step.
    await eventually(() => pipeline.stats().generationsInFlight === 0 && pipeline.stats().cacheBytes === 0, "the generation to be freed");
    assert.ok(pipeline.stats().tokensGenerated < 50);
  });
});
