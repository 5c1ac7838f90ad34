import { test } from "node:test";
import assert from "node:assert/strict";
import { ProtocolError } from "../src/index.js";
import { detect, frameToText, isSupportedVersion } from "../src/protocol.js";

test("an object with a header object is standard protocol", () => {
  const d = detect(JSON.stringify({ header: { message_type: "x" }, session_id: "s" }));
  assert.equal(d.kind, "standard");
});

test("an object with session_id and no header object is legacy", () => {
  assert.equal(detect('{"session_id":"s","step":0}').kind, "legacy");
  // A non-object header does not make a message standard.
  assert.equal(detect('{"header":"x","session_id":"s"}').kind, "legacy");
});

test("not JSON, not an object, neither format: coded errors", () => {
  const codes = ["{oops", "[1,2]", "42", "null", '"str"', '{"a":1}', '{"header":null}'].map((t) => {
    const d = detect(t);
    return d.kind === "error" ? d.error.code : d.kind;
  });
  assert.deepEqual(codes, [
    "INVALID_JSON",
    "INVALID_MESSAGE",
    "INVALID_MESSAGE",
    "INVALID_MESSAGE",
    "INVALID_MESSAGE",
    "UNRECOGNIZED_MESSAGE",
    "UNRECOGNIZED_MESSAGE",
  ]);
});

test("deep nesting is an INVALID_JSON error, not a crash", () => {
  const deep = "[".repeat(200_000) + "]".repeat(200_000);
  const d = detect(deep);
  assert.ok(d.kind === "error" || d.kind === "standard" || d.kind === "legacy");
});

test("binary frames holding UTF-8 are text; invalid UTF-8 is refused", () => {
  assert.equal(frameToText(Buffer.from('{"a":"é"}'), true), '{"a":"é"}');
  const bad = frameToText(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), true);
  assert.ok(bad instanceof ProtocolError);
  assert.equal(bad.code, "INVALID_JSON");
  assert.equal(frameToText([Buffer.from('{"a"'), Buffer.from(":1}")], true), '{"a":1}');
});

test("protocol versions: any 2.x is served, other majors are not", () => {
  for (const v of ["2.0", "2", "2.1", "2.10"]) assert.ok(isSupportedVersion(v), v);
  for (const v of ["1.0", "3.0", "20", "2.x", "", "v2"]) assert.ok(!isSupportedVersion(v), v);
});
