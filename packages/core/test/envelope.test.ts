import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "../src/index.js";
import { protocolPercentage } from "../src/server.js";
import { headerSchema, isWellFormedHeader, legacyError, standardError, standardReply, validationError } from "../src/protocol.js";

test("a standard reply has a fresh header with correlation_id = the request's message_id", () => {
  const a = JSON.parse(standardReply("heartbeat_ack", "req-1", { worker_id: "w" }));
  const b = JSON.parse(standardReply("heartbeat_ack", "req-1", { worker_id: "w" }));
  assert.equal(a.header.message_type, "heartbeat_ack");
  assert.equal(a.header.protocol_version, "2.0");
  assert.equal(a.header.correlation_id, "req-1");
  assert.notEqual(a.header.message_id, b.header.message_id);
  assert.ok(!Number.isNaN(Date.parse(a.header.timestamp)));
  assert.equal(a.worker_id, "w");
});

test("a standard reply is the same text as JSON.stringify({header, ...payload}), whatever the payload", () => {
  class Point {
    x = 1;
    toJSON() {
      return { y: 2 };
    }
  }
  const payloads: object[] = [
    {},
    { worker_id: "w", load: { a: 1, b: [1, 2] }, models: ["m\"\n"], gone: undefined, n: null },
    { toJSON: () => ({ swapped: true }) },
    Object.assign(Object.create(null), { bare: true }),
    new Point(),
    [1, 2],
  ];
  for (const payload of payloads) {
    for (const [type, corr] of [["t_ack", "id-1"], ["q\"uote", null], ["u", "\u2028 \\"]] as const) {
      const text = standardReply(type, corr, payload);
      const { header } = JSON.parse(text);
      assert.equal(text, JSON.stringify({ header, ...payload }), JSON.stringify(payload));
      if (Object.hasOwn(payload, "toJSON")) continue; // its own toJSON decides the text, as before
      assert.deepEqual(Object.keys(header), ["message_id", "message_type", "protocol_version", "timestamp", "correlation_id"]);
      assert.equal(header.message_type, type);
      assert.equal(header.correlation_id, corr);
    }
  }
});

test("payload keys that are array indices: the same frame, the header still first in its text", () => {
  const text = standardReply("t", "c", { 2: "two", 1: "one", z: "z" });
  const frame = JSON.parse(text);
  assert.deepEqual(frame, { header: frame.header, 1: "one", 2: "two", z: "z" });
  assert.ok(text.startsWith('{"header":{'));
});

test("a payload cannot overwrite the reply header", () => {
  const r = JSON.parse(standardReply("x_response", "id", { header: { message_type: "forged" } }));
  assert.equal(r.header.message_type, "x_response");
});

test("error frames: code and message beside the header; legacy shape echoes ids", () => {
  const e = JSON.parse(standardError(null, { code: "INVALID_JSON", message: "bad" }));
  assert.equal(e.header.message_type, "error");
  assert.equal(e.header.correlation_id, null);
  assert.equal(e.code, "INVALID_JSON");
  const l = JSON.parse(legacyError({ session_id: "s1", step: 3 }, { code: "SESSION_NOT_FOUND", message: "m" }));
  assert.deepEqual(l, { session_id: "s1", step: 3, error: { code: "SESSION_NOT_FOUND", message: "m" } });
  const huge = JSON.parse(legacyError({ session_id: "x".repeat(10_000), step: { a: 1 } }, { code: "C", message: "m" }));
  assert.equal(huge.session_id, null);
  assert.equal(huge.step, null);
});

test("validation errors name the failing fields and never echo the input", () => {
  const schema = z.object({ max_tokens: z.number().int(), prompt: z.string() });
  const secret = "s".repeat(5000);
  const result = schema.safeParse({ max_tokens: "10", prompt: 5, extra: secret });
  assert.ok(!result.success);
  const err = validationError(result.error);
  assert.equal(err.code, "VALIDATION_FAILED");
  const paths = (err.details as { issues: { path: string }[] }).issues.map((i) => i.path);
  assert.deepEqual(paths.sort(), ["max_tokens", "prompt"]);
  assert.ok(!JSON.stringify(err.toBody()).includes("sss"));
});

test("header schema: timestamps with or without a zone are accepted; garbage is not", () => {
  const base = { message_id: "1", message_type: "t", protocol_version: "2.0" };
  for (const ts of ["2024-01-01T12:00:00Z", "2024-01-01T12:00:00", "2024-01-01T12:00:00.123456", "2024-01-01T12:00:00+03:30", "2024-01-01 12:00:00"]) {
    assert.ok(headerSchema.safeParse({ ...base, timestamp: ts }).success, ts);
  }
  for (const ts of ["yesterday", "", "12:00", 1704110400]) {
    assert.ok(!headerSchema.safeParse({ ...base, timestamp: ts }).success, String(ts));
  }
});

test("protocol_percentage arithmetic", () => {
  assert.equal(protocolPercentage(0, 0), 0);
  assert.equal(protocolPercentage(1, 3), 33.33);
  assert.equal(protocolPercentage(2, 3), 66.67);
  assert.equal(protocolPercentage(5, 5), 100);
});

test("the hand-written header check and the zod header schema agree on every variant", () => {
  const good = { message_id: "1", message_type: "t", protocol_version: "2.0", timestamp: "2024-01-01T12:00:00Z" };
  const values: unknown[] = [undefined, null, "", "x", "2024-01-01", "2024-01-01T12:00:00", "y".repeat(40), "z".repeat(300), "w".repeat(600), 0, 7, true, [], {}, ["a"]];
  const fields = ["message_id", "message_type", "protocol_version", "timestamp", "license_hash", "correlation_id"];
  let checked = 0;
  for (const field of fields) {
    for (const value of values) {
      const header: Record<string, unknown> = { ...good };
      if (value === undefined) delete header[field];
      else header[field] = value;
      assert.equal(isWellFormedHeader(header), headerSchema.safeParse(header).success, `${field} = ${JSON.stringify(value)?.slice(0, 20)}`);
      checked++;
    }
  }
  assert.equal(checked, fields.length * values.length);
  assert.ok(isWellFormedHeader({ ...good, extra: { nested: true } }));
});
