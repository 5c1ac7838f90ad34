// replyChecker and TestClient's checkReplies: what a node really sends, held to what its handlers declare.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defineHandler, definePlugin, LEGACY_FORMAT, MessageHandler, reply, z } from "@modelnode/core";
import { header, invokeHandler, replyChecker, startTestNode, TestClient } from "../src/index.js";

const done = z.object({ done: z.int().min(0) });
const tickChunk = z.object({ i: z.int().min(0) });

@MessageHandler("tick", { schema: z.object({ n: z.int().min(0).max(10) }), replySchema: done, replies: { tick_chunk: tickChunk } })
class Tick {
  async *handle(msg: { n: number }) {
    for (let i = 0; i < msg.n; i++) yield reply("tick_chunk", { i });
    yield { done: msg.n };
  }
}

const ok = z.object({ ok: z.boolean() });
/** What the compiler cannot see: a field beside the declared ones, a wrong type behind a cast, a type nobody declared. */
const liar = defineHandler({
  type: "liar",
  schema: z.object({ how: z.enum(["extra", "type", "undeclared-type", "chunk-of-another"]) }),
  replySchema: ok,
  handle(msg) {
    const out = { ok: true, secret: "internal" }; // not a fresh literal: the compiler checks no extra fields here
    if (msg.how === "extra") return out;
    if (msg.how === "type") return { ok: "yes" } as unknown as { ok: boolean };
    if (msg.how === "undeclared-type") return reply("liar_chunk", { n: 1 }) as unknown as { ok: boolean };
    return reply("tick_chunk", { i: 1 }) as unknown as { ok: boolean }; // declared by tick, not by liar
  },
});
const silent = defineHandler({ type: "silent", schema: z.object({}), handle: () => ({ anything: 1 }) });
const legacy = defineHandler({
  type: LEGACY_FORMAT,
  schema: z.object({ session_id: z.string(), step: z.int() }),
  replySchema: z.object({ session_id: z.string(), step: z.int(), next: z.int() }),
  handle: (msg) => ({ session_id: msg.session_id, step: msg.step, next: msg.step + 1 }),
});

const plugin = definePlugin({ name: "checked", handlers: [Tick, liar, silent, legacy] });

test("frames as declared come through; the checker finds nothing in replies, streams, errors and legacy frames", async () => {
  const { node, url } = await startTestNode({ plugins: [plugin] });
  const client = await TestClient.connect(url, { checkReplies: node });
  try {
    client.send({ header: header("tick", "t-1"), n: 2 });
    const { chunks, final } = await client.untilFinal("tick_chunk");
    assert.deepEqual(chunks.map((c) => c.i), [0, 1]);
    assert.equal(final.done, 2);
    assert.equal((await client.call("tick", { n: "2" })).code, "VALIDATION_FAILED");
    assert.equal((await client.call("nobody")).code, "UNKNOWN_MESSAGE_TYPE");
    assert.equal((await client.request("not json")).code, "INVALID_JSON");
    assert.equal((await client.request({ session_id: "s", step: 0 })).next, 1);
    assert.equal((await client.request({ session_id: "s", step: "x" })).error.code, "VALIDATION_FAILED");
    assert.deepEqual(client.violations, []);
  } finally {
    await client.close();
    await node.close();
  }
});

test("a frame that is not as declared makes the read reject, naming the problem; violations lists it", async () => {
  const { node, url } = await startTestNode({ plugins: [plugin] });
  const client = await TestClient.connect(url, { checkReplies: node });
  try {
    await assert.rejects(client.call("liar", { how: "extra" }), /"liar_response" .*field "secret" is not in the declared schema/);
    await assert.rejects(client.call("liar", { how: "type" }), /"liar_response" .*ok: .*expected boolean/i);
    await assert.rejects(client.call("liar", { how: "undeclared-type" }), /sent "liar_chunk", which it does not declare \(it declares "liar_response"\)/);
    // tick_chunk is declared, but by tick: liar's reply is still undeclared.
    await assert.rejects(client.call("liar", { how: "chunk-of-another" }), /sent "tick_chunk", which it does not declare/);
    await assert.rejects(client.call("silent"), /declares no replySchema for its "silent_response"/);
    assert.equal(client.violations.length, 5);
    // The connection lives on: the next frame as declared reads as usual.
    assert.equal((await client.call("tick", { n: 0 })).done, 0);
  } finally {
    await client.close();
    await node.close();
  }
});

test("core's own shapes: the reply header, the error frame and the legacy error", async () => {
  const { node } = await startTestNode({ plugins: [plugin] });
  try {
    const checker = replyChecker(node);
    const good = { header: { message_id: "m", message_type: "tick_response", protocol_version: "2.0", timestamp: new Date().toISOString(), correlation_id: "t" }, done: 1 };
    assert.deepEqual(checker.problems(good, "tick"), []);
    assert.match(checker.problems({ ...good, header: { ...good.header, timestamp: "yesterday" } }).join("\n"), /header: timestamp/);
    assert.match(checker.problems({ ...good, header: { ...good.header, correlation_id: undefined } }).join("\n"), /header: correlation_id/);
    const error = { header: { ...good.header, message_type: "error" }, code: "MODEL_NOT_FOUND", message: "No.", details: { models: [] } };
    assert.deepEqual(checker.problems(error, "tick"), []);
    assert.match(checker.problems({ ...error, code: "model not found" }).join("\n"), /error .*code/);
    assert.match(checker.problems({ ...error, hint: "x" }).join("\n"), /field "hint" is not in the declared schema/);
    assert.deepEqual(checker.problems({ session_id: null, step: 3, error: { code: "SESSION_NOT_FOUND", message: "No." } }), []);
    assert.match(checker.problems({ session_id: "s", step: 0, error: { message: "No." } }).join("\n"), /legacy error .*error\.code/);
    assert.match(checker.problems({ session_id: "s", step: 0, next: 1, extra: true }).join("\n"), /legacy reply .*field "extra"/);
    assert.match(checker.problems({ raw: "not json" }).join("\n"), /not a JSON object/);
    // Without the request: any handler's declaration of the type will do; none is a problem.
    assert.deepEqual(checker.problems({ ...good, header: { ...good.header, message_type: "tick_chunk" }, done: undefined, i: 4 }), []);
    assert.match(checker.problems({ ...good, header: { ...good.header, message_type: "nobody_response" } }).join("\n"), /no handler declares a schema for reply type "nobody_response"/);
  } finally {
    await node.close();
  }
});

test("checkReply holds invokeHandler's frames to the same declarations", async () => {
  const { node } = await startTestNode({ plugins: [plugin] });
  try {
    const checker = replyChecker(node);
    for (const frame of await invokeHandler(node, "tick", { n: 2 })) checker.checkReply("tick", frame);
    checker.checkReply(LEGACY_FORMAT, (await invokeHandler(node, LEGACY_FORMAT, { session_id: "s", step: 0 }))[0]);
    const [extra] = await invokeHandler(node, "liar", { how: "extra" });
    assert.throws(() => checker.checkReply("liar", extra), /field "secret" is not in the declared schema/);
    assert.throws(() => checker.checkReply("liar", { type: "tick_chunk", payload: { i: 1 } }), /does not declare/);
    assert.throws(() => checker.checkReply("nobody", { type: "x", payload: {} }), /no handler registered for "nobody"/);
  } finally {
    await node.close();
  }
});
