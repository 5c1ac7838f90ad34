/** Both handler forms (decorated class, defineHandler value), option-aware schemas, the legacy slot. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  defineHandler,
  definePlugin,
  inject,
  LEGACY_FORMAT,
  MessageHandler,
  NODE_INFO,
  reply,
  z,
  type InjectionToken,
  type NodeInfo,
} from "../src/index.js";
import { createNode } from "../src/server.js";
import { header, startNode, TestClient } from "./helpers.js";

interface ShoutOptions {
  maxChars: number;
}
const SHOUT_OPTIONS: InjectionToken<ShoutOptions> = Symbol("test.shout-options");
const shoutSchema = (options: ShoutOptions) => z.object({ text: z.string().max(options.maxChars) });

/** A top-level class whose limit comes from the plugin's options, per node. */
@MessageHandler("shout", { schema: (resolve) => shoutSchema(resolve(SHOUT_OPTIONS)) })
class ShoutHandler {
  handle(msg: { text: string }) {
    return { text: msg.text.toUpperCase() };
  }
}
const shoutPlugin = (options: ShoutOptions) =>
  definePlugin({ name: "shout", handlers: [ShoutHandler], register: (c) => void c.register(SHOUT_OPTIONS, { useValue: options }) });

// The compiler checks a handler's message type against its schema.
const typed = z.object({ a: z.string() });
// @ts-expect-error handle() must accept what the schema outputs ({ a: string }), not { a: number }
@MessageHandler("typed", { schema: typed })
class Mismatched {
  handle(msg: { a: number }) {
    return msg;
  }
}
// @ts-expect-error a field the schema never outputs is refused too (not only a wrong type)
@MessageHandler("typed", { schema: typed })
class ExtraField {
  handle(msg: { a: string; b: number }) {
    return msg;
  }
}
void Mismatched;
void ExtraField;

// With replySchema / replies declared, the compiler checks what handle() returns against them too.
const pong = z.object({ ok: z.boolean(), n: z.int().optional() });
const chunk = z.object({ i: z.int() });
@MessageHandler("typed", { schema: typed, replySchema: pong, replies: { typed_chunk: chunk } })
class Declared {
  async *handle(msg: { a: string }) {
    yield reply("typed_chunk", { i: msg.a.length });
    yield { ok: true };
  }
}
// @ts-expect-error the reply must be what replySchema accepts ({ ok: boolean }), not { ok: string }
@MessageHandler("typed", { schema: typed, replySchema: pong })
class WrongReply {
  handle() {
    return { ok: "yes" };
  }
}
// @ts-expect-error a field replySchema requires is missing
@MessageHandler("typed", { schema: typed, replySchema: pong })
class MissingReplyField {
  async handle() {
    return { n: 1 };
  }
}
// @ts-expect-error a reply(type, …) of a type not listed in replies
@MessageHandler("typed", { schema: typed, replySchema: pong, replies: { typed_chunk: chunk } })
class UndeclaredReplyType {
  async *handle() {
    yield reply("typed_other", { i: 1 });
    yield { ok: true };
  }
}
// @ts-expect-error a declared reply type with the wrong payload
@MessageHandler("typed", { schema: typed, replySchema: pong, replies: { typed_chunk: chunk } })
class WrongChunk {
  async *handle() {
    yield reply("typed_chunk", { i: "one" });
    yield { ok: true };
  }
}
const definedWrong = defineHandler({
  type: "typed",
  schema: typed,
  replySchema: pong,
  // @ts-expect-error defineHandler checks handle's return against replySchema the same way
  handle: () => ({ ok: 1 }),
});
void Declared;
void WrongReply;
void MissingReplyField;
void UndeclaredReplyType;
void WrongChunk;
void definedWrong;

test("declared reply schemas reach the registry; ones that are not zod schemas fail startup naming the handler", async () => {
  const node = await createNode({ logLevel: "silent", plugins: [definePlugin({ name: "declared", handlers: [Declared] })] });
  const handler = node.registry.get("typed")!;
  assert.equal(handler.replySchema, pong);
  assert.deepEqual(Object.keys(handler.replies), ["typed_chunk"]);
  assert.equal(handler.replies.typed_chunk, chunk);
  await node.close();
  const bad = (options: Record<string, unknown>) =>
    createNode({ logLevel: "silent", plugins: [definePlugin({ name: "pb", handlers: [{ ...defineHandler({ type: "b", schema: z.object({}), handle: () => ({}) }), ...options }] })] });
  await assert.rejects(bad({ replySchema: { type: "object" } }), /handler "b" \(plugin "pb"\): replySchema is not a zod schema/);
  await assert.rejects(bad({ replies: { b_chunk: {} } }), /handler "b" \(plugin "pb"\): replies\["b_chunk"\] is not a zod schema/);
  await assert.rejects(bad({ replies: { b_response: z.object({}) } }), /replies\["b_response"\] is its replyType/);
});

test("an option-aware schema: each node enforces its own plugin options", async () => {
  const small = await startNode({ plugins: [shoutPlugin({ maxChars: 3 })] });
  const large = await startNode({ plugins: [shoutPlugin({ maxChars: 100 })] });
  const a = await TestClient.connect(small.url);
  const b = await TestClient.connect(large.url);
  const refused = await a.request({ header: header("shout"), text: "hello" });
  assert.equal(refused.code, "VALIDATION_FAILED");
  assert.equal(refused.details.issues[0].path, "text");
  const ok = await b.request({ header: header("shout"), text: "hello" });
  assert.equal(ok.header.message_type, "shout_response");
  assert.equal(ok.text, "HELLO");
  a.close();
  b.close();
  await small.node.close();
  await large.node.close();
});

test("defineHandler: a plain value, deps injected by name, message typed from the schema", async () => {
  const whoami = defineHandler({
    type: "whoami",
    schema: z.object({ greeting: z.string().default("hi") }),
    inject: { info: NODE_INFO },
    handle(msg, ctx, { info }) {
      // msg.greeting is a string (the default applied); info is NodeInfo.
      const greeting: string = msg.greeting;
      const node: NodeInfo = info;
      return { greeting, node: node.nodeId, connection: ctx.connectionId.length > 0 };
    },
  });
  const { node, url } = await startNode({ nodeId: "n-7", plugins: [definePlugin({ name: "who", handlers: [whoami] })] });
  const c = await TestClient.connect(url);
  const reply = await c.request({ header: header("whoami") });
  assert.equal(reply.header.message_type, "whoami_response");
  assert.deepEqual({ greeting: reply.greeting, node: reply.node, connection: reply.connection }, { greeting: "hi", node: "n-7", connection: true });
  c.close();
  await node.close();
});

test("defineHandler with an injected service nobody provides fails startup naming it", async () => {
  const MISSING: InjectionToken<number> = Symbol("test.missing-service");
  const h = defineHandler({ type: "x", schema: z.object({}), inject: { n: MISSING }, handle: (_m, _c, { n }) => ({ n }) });
  await assert.rejects(
    createNode({ logLevel: "silent", plugins: [definePlugin({ name: "px", handlers: [h] })] }),
    /handler "x" \(plugin "px"\) could not be built: it injects the service test\.missing-service as "n", which no plugin provides/,
  );
});

test("the legacy format has its own slot: a standard message_type \"legacy\" is just unknown", async () => {
  @MessageHandler(LEGACY_FORMAT, { schema: z.object({ session_id: z.string(), step: z.int() }) })
  class Legacy {
    handle(msg: { session_id: string; step: number }) {
      return { session_id: msg.session_id, step: msg.step, output_tensors: {} };
    }
  }
  const { node, url } = await startNode({ plugins: [definePlugin({ name: "legacy", handlers: [Legacy] })] });
  const c = await TestClient.connect(url);
  assert.deepEqual(await c.request({ session_id: "s", step: 0 }), { session_id: "s", step: 0, output_tensors: {} });
  const standard = await c.request({ header: header("legacy"), session_id: "s", step: 0 });
  assert.equal(standard.code, "UNKNOWN_MESSAGE_TYPE");
  assert.deepEqual(standard.details.supported, []);
  assert.equal(node.registry.legacy?.className, "Legacy");
  assert.equal(node.getStats().requests_by_type.legacy, 1);
  c.close();
  await node.close();
});

test("two legacy handlers are refused, naming both and their plugins", async () => {
  const schema = z.object({});
  @MessageHandler(LEGACY_FORMAT, { schema })
  class A {
    handle() {
      return {};
    }
  }
  @MessageHandler(LEGACY_FORMAT, { schema })
  class B {
    constructor(@inject(NODE_INFO) readonly info: NodeInfo) {}
    handle() {
      return {};
    }
  }
  await assert.rejects(
    createNode({ logLevel: "silent", plugins: [definePlugin({ name: "pa", handlers: [A] }), definePlugin({ name: "pb", handlers: [B] })] }),
    /two handlers for the legacy format: A \(plugin "pa"\) and B \(plugin "pb"\)/,
  );
});
