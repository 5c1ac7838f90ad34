import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { errors, isCodedError, ProtocolError } from "@modelnode/core/pipeline";
import { deserializeError, serializeError } from "../src/messages/errors.js";
import { ModelLoadError } from "../src/shared/model-files.js";

/** Through structured clone, as a message between threads carries it. */
const acrossThreads = (error: unknown) => deserializeError(structuredClone(serializeError(error)));

test("coded errors cross the thread boundary as coded errors, with code, message and details", () => {
  for (const original of [
    errors.busy("The model is busy; retry later.", { waiting: 3 }),
    errors.sessionNotFound("abc"),
    new ProtocolError("SOMETHING_NEW", "A code core does not list."),
  ]) {
    const copy = acrossThreads(original);
    assert.ok(isCodedError(copy), original.code);
    assert.ok(copy instanceof ProtocolError);
    assert.equal(copy.code, original.code);
    assert.equal(copy.message, original.message);
    assert.deepEqual(copy.details, original.details);
  }
});

test("other errors stay what they were: a ModelLoadError keeps its fields, anything else is not coded", () => {
  const load = acrossThreads(new ModelLoadError("m", "/x/config.json", "missing"));
  assert.ok(load instanceof ModelLoadError);
  assert.equal(load.message, 'model "m": /x/config.json: missing');
  const plain = Object.assign(new Error("boom"), { code: "ERR_SOMETHING" }); // a Node error code is not a wire code
  assert.equal(isCodedError(acrossThreads(plain)), false);
  assert.equal(isCodedError(acrossThreads(new TypeError("bad"))), false);
  assert.equal(acrossThreads("thrown text").message, "thrown text");
});

test("the package reaches core through its pipeline entry point only, and throws no PipelineError of its own", () => {
  const src = fileURLToPath(new URL("../../src", import.meta.url)); // from dist/test to the sources
  const files = (readdirSync(src, { recursive: true }) as string[]).filter((file) => file.endsWith(".ts"));
  assert.ok(files.length > 20, `found ${files.length} source files in ${src}`);
  for (const file of files) {
    const text = readFileSync(join(src, file), "utf8");
    for (const [, specifier] of text.matchAll(/from\s+"(@modelnode\/core[^"]*)"/g)) {
      assert.equal(specifier, "@modelnode/core/pipeline", `${file} imports ${specifier}`);
    }
    assert.ok(!/new PipelineError\(/.test(text), `${file} constructs a PipelineError; use core's errors.*`);
  }
});
