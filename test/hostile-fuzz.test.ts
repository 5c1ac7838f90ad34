// Property-based hostile input: hundreds of random and mutated frames of every type at the
// example node on the real pipeline. Every frame gets a structured reply (or a policy close:
// 1009 oversize, 1007 text that is not UTF-8, 1008 after a failed authentication), nothing is
// echoed at length, no prototype is polluted, logs stay bounded, and a heartbeat on the same
// connection works after every case. FUZZ_RUNS / FUZZ_SEED override the run count and seed.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { TestClient, header } from "@modelnode/testing";
import { byteSize, frameCase, type FrameCase } from "./support/fuzz-cases.js";
import { LogCapture } from "@modelnode/testing";
import { eventuallyIdle, startNode } from "./support/node.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 600);
const SEED = Number(process.env.FUZZ_SEED ?? 20240601);
const LIMITS = { maxMessageBytes: 48 * 1024, maxPayloadBytes: 96 * 1024 };
const UPPER_SNAKE = /^[A-Z][A-Z0-9_]*$/;
/** Policy closes a case may end in, by what the case was. */
const POLICY_CLOSES = { oversize: 1009, invalidUtf8: 1007, failedAuthentication: 1008 };

const prototypeKeys = () => ({
  object: Object.getOwnPropertyNames(Object.prototype).sort().join(),
  array: Object.getOwnPropertyNames(Array.prototype).sort().join(),
  function: Object.getOwnPropertyNames(Function.prototype).sort().join(),
});

/** What the sender's own parse says about correlation: the message_id an error must carry. */
function expectedCorrelation(c: FrameCase): string | null | undefined {
  let parsed: any;
  try {
    parsed = JSON.parse(typeof c.data === "string" ? c.data : new TextDecoder("utf-8", { fatal: true }).decode(c.data));
  } catch {
    return undefined;
  }
  const h = parsed?.header;
  if (h === null || typeof h !== "object" || Array.isArray(h)) return undefined;
  const id = h.message_id;
  return typeof id === "string" && id.length > 0 && id.length <= 256 ? id : null;
}

function isAuthentication(c: FrameCase): boolean {
  try {
    return JSON.parse(String(c.data))?.header?.message_type === "authentication";
  } catch {
    return false;
  }
}

function checkFrame(frame: any, c: FrameCase): void {
  const size = JSON.stringify(frame).length;
  assert.ok(size <= 16 * 1024, `reply of ${size} bytes to ${c.label}`);
  assert.ok(!("raw" in frame), `a reply that is not JSON: ${String(frame.raw).slice(0, 100)}`);
  const error = frame.header ? (frame.header.message_type === "error" ? frame : undefined) : frame.error;
  if (frame.header) {
    assert.equal(frame.header.protocol_version, "2.0");
    // An oversize message is refused unparsed, so its error cannot be correlated.
    const expected = frame.code === "PAYLOAD_TOO_LARGE" ? null : expectedCorrelation(c);
    if (expected !== undefined) assert.equal(frame.header.correlation_id, expected, "replies carry the request's message_id");
  } else {
    assert.ok("session_id" in frame && ("output_tensors" in frame || "error" in frame), `neither standard nor legacy: ${JSON.stringify(frame).slice(0, 200)}`);
  }
  if (error) {
    assert.match(error.code, UPPER_SNAKE);
    assert.notEqual(error.code, "INTERNAL_ERROR", `internal error for ${c.label}: ${String(c.data).slice(0, 300)}`);
    assert.equal(typeof error.message, "string");
    assert.ok(error.message.length <= 500, "error messages are short");
    assert.ok(size <= 4096, `an error of ${size} bytes`);
    assert.ok(!JSON.stringify(frame).includes("Z".repeat(100)), "errors never echo large input");
  }
}

test(`fuzz: ${RUNS} random and mutated frames; each answered or closed by policy; no crash, no pollution, bounded logs`, async (t) => {
  const logs = new LogCapture("debug");
  const { node, url } = await startNode(
    {
      limits: { ...LIMITS, messagesPerSecond: 0, maxTokens: 4, maxInputTokens: 64, maxSessions: 16 },
      auth: { maxFailedAttempts: 1 },
    },
    { logger: logs.logger },
  );
  t.after(() => node.close());
  const before = prototypeKeys();
  const outcomes = new Map<string, number>();
  const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  let client = await TestClient.connect(url);

  const property = fc.asyncProperty(frameCase(LIMITS), async (c) => {
    if (!client.isOpen) client = await TestClient.connect(url);
    client.send(c.data, { binary: c.binary });
    const size = byteSize(c.data);
    let outcome = await client.nextOrClose(15_000);
    if (outcome.frame) {
      checkFrame(outcome.frame, c);
      while (outcome.frame?.header?.message_type === "inference_chunk") {
        outcome = await client.nextOrClose(15_000);
        if (outcome.frame) checkFrame(outcome.frame, c);
      }
    }
    if (outcome.close) {
      const { code } = outcome.close;
      const allowed =
        (code === POLICY_CLOSES.oversize && size > LIMITS.maxPayloadBytes) ||
        (code === POLICY_CLOSES.invalidUtf8 && c.invalidUtf8 === true) ||
        (code === POLICY_CLOSES.failedAuthentication && isAuthentication(c));
      assert.ok(allowed, `closed with ${code} after ${c.label} (${size} bytes)`);
      count(`close ${code}`);
      client = await TestClient.connect(url);
    } else {
      const f = outcome.frame;
      count(f.header ? (f.header.message_type === "error" ? f.code : f.header.message_type) : f.error ? `legacy ${f.error.code}` : "legacy step");
      if (size > LIMITS.maxMessageBytes) assert.equal(f.code, "PAYLOAD_TOO_LARGE");
      if (f.header?.message_type === "authentication_response" && f.authenticated === false) {
        // auth.maxFailedAttempts is 1 here: the refusal is followed by a policy close.
        assert.equal((await client.closed).code, POLICY_CLOSES.failedAuthentication);
        client = await TestClient.connect(url);
      }
    }
    assert.equal(({} as any).polluted, undefined, "Object.prototype polluted");
    assert.deepEqual(prototypeKeys(), before, "a prototype gained keys");
    // The same connection (or the new one after a policy close) is served at once.
    const ack = await client.request({ header: header("heartbeat", "after"), worker_id: "fuzz" });
    assert.equal(ack.header.message_type, "heartbeat_ack");
  });
  const run = await fc.check(property, { numRuns: RUNS, seed: SEED, endOnFailure: true });
  if (run.failed) {
    const [c] = run.counterexample ?? [];
    const shown = c ? `${c.label}, ${byteSize(c.data)} bytes: ${JSON.stringify(String(c.data).slice(0, 400))}` : "none";
    assert.fail(`case ${run.numRuns} failed (seed ${SEED}, path ${run.counterexamplePath}): ${String((run.errorInstance as Error)?.message).slice(0, 600)}\ncase: ${shown}`);
  }
  await client.close();

  await eventuallyIdle(node);
  const stats = node.getStats();
  assert.equal(stats.errors_by_code.INTERNAL_ERROR, undefined);
  assert.equal(logs.matching(/handler failed|dispatch failed/).length, 0, "nothing escaped as an internal failure");
  assert.ok(logs.lines.length > RUNS, "the node logged each request");
  assert.ok(logs.longestLine < 2048, `log lines stay short (longest ${logs.longestLine} bytes)`);
  assert.ok(!logs.lines.some((line) => line.includes("Z".repeat(100))), "logs never hold large input");
  t.diagnostic(`seed ${SEED}, ${RUNS} cases: ${JSON.stringify(Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])))}`);
});
