/** The AsyncAPI 3.0 document generated from a node's registry, checked by the official parser. */
import { test } from "node:test";
import assert from "node:assert/strict";
import asyncapiParser from "@asyncapi/parser";
import { defineHandler, definePlugin, z } from "../src/index.js";
import { asyncApiDocument, createNode, CORE_VERSION, type AsyncApiDocument, type HandlerRegistry, type ModelNode, type NodeOptions } from "../src/server.js";
import { errorBodySchema, errorCodeSchema, PROTOCOL_VERSION, replyHeaderSchema } from "../src/protocol.js";
import { testPlugin } from "./test-plugin.js";

const { Parser, DiagnosticSeverity } = asyncapiParser;
const parser = new Parser();

/** Parses and validates (schema and the parser's rules); fails on any error-level diagnostic. */
async function validate(doc: AsyncApiDocument) {
  // A string, so that the parser cannot touch the object under test.
  const { document, diagnostics } = await parser.parse(JSON.stringify(doc));
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  assert.deepEqual(
    errors.map((d) => `${d.code}: ${d.message} at ${d.path.join("/")}`),
    [],
    "the document is valid AsyncAPI",
  );
  assert.ok(document, "the parser returned a document");
  return document!;
}

const Tree: z.ZodType<{ name: string; children: unknown[] }> = z.object({
  name: z.string(),
  get children() {
    return z.array(Tree);
  },
});

/** Schemas JSON Schema cannot (fully) express, and awkward type names. */
const awkwardPlugin = definePlugin({
  name: "awkward",
  handlers: [
    defineHandler({
      type: "transformed",
      schema: z.object({ n: z.string().transform((s) => s.length), when: z.date(), f: z.custom<() => void>((v) => typeof v === "function") }),
      handle: () => ({ ok: true }),
    }),
    defineHandler({
      type: "refined",
      schema: z.object({ a: z.int(), b: z.int() }).refine((m) => m.a < m.b, { message: "a < b" }),
      handle: () => ({ ok: true }),
    }),
    defineHandler({ type: "whole-transform", schema: z.transform((v) => v), handle: () => ({ ok: true }) }),
    defineHandler({ type: "tree", schema: z.object({ root: Tree, self: Tree.optional() }), handle: () => ({ ok: true }) }),
    defineHandler({ type: "ns/odd type", schema: z.object({}), replyType: "heartbeat", handle: () => ({}) }),
    defineHandler({ type: "error", schema: z.object({}), handle: () => ({}) }),
  ],
});

async function node(plugins: NodeOptions["plugins"]): Promise<ModelNode> {
  return createNode({ logLevel: "silent", plugins });
}

function messageNamed(doc: AsyncApiDocument, name: string): [string, Record<string, any>] | undefined {
  return Object.entries(doc.components.messages).find(([, m]) => m.name === name) as [string, Record<string, any>] | undefined;
}

test("every registered message type, its reply, error and legacy are in a valid AsyncAPI 3.0 document", async () => {
  const n = await node([testPlugin(), awkwardPlugin]);
  const doc = asyncApiDocument(n);
  assert.equal(doc.asyncapi, "3.0.0");
  assert.equal(doc.info.title, "modelnode");
  assert.equal(doc.info.version, CORE_VERSION);
  assert.deepEqual(Object.keys(doc.channels), ["root"]);
  assert.equal(doc.channels.root.address, "/");

  const parsed = await validate(doc);
  const parsedNames = new Set(parsed.allMessages().all().map((m) => m.name()));
  const receives = Object.values(doc.operations).filter((o) => o.action === "receive");

  for (const type of n.registry.types()) {
    const handler = n.registry.get(type)!;
    assert.ok(parsedNames.has(type), `message ${type} parsed`);
    const [key, message] = messageNamed(doc, type)!;
    assert.deepEqual(message.payload.allOf[0].properties.header.allOf[1].properties.message_type, { const: type });
    const receive = receives.find((o) => (o.messages as any[])[0].$ref === `#/channels/root/messages/${key}`);
    assert.ok(receive, `a receive operation for ${type}`);
    const replyRefs = (receive.reply as any).messages.map((m: any) => m.$ref.split("/").pop());
    const replyNames = replyRefs.map((k: string) => doc.components.messages[k].name);
    assert.ok(replyNames.includes(handler.replyType), `${type} is answered with ${handler.replyType}`);
    assert.ok(replyNames.includes("error"), `${type} may be answered with error`);
    assert.ok(parsedNames.has(handler.replyType), `reply ${handler.replyType} parsed`);
  }
  assert.ok(n.registry.legacy);
  for (const name of ["legacy", "legacy_reply", "legacy_error", "error"]) assert.ok(parsedNames.has(name), name);
  assert.equal(doc.operations.receive_legacy.action, "receive");
  assert.equal(doc.operations.send_error.action, "send");

  // Each reply type has one send operation.
  const sends = Object.values(doc.operations).filter((o) => o.action === "send");
  for (const type of new Set(n.registry.types().map((t) => n.registry.get(t)!.replyType))) {
    const keys = Object.entries(doc.components.messages).filter(([, m]: [string, any]) => m.name === type && m.correlationId.location.endsWith("correlation_id"));
    assert.equal(keys.length, 1, `one reply message ${type}`);
    assert.ok(sends.some((o) => (o.messages as any[])[0].$ref.endsWith(`/${keys[0][0]}`)), `a send operation for ${type}`);
  }
  await n.close();
});

test("payloads are the handlers' zod schemas as JSON Schema (input side), beside the header", async () => {
  const n = await node([testPlugin(), awkwardPlugin]);
  const doc = asyncApiDocument(n);
  const schemas = doc.components.schemas as Record<string, any>;
  const [heartbeatKey, heartbeat] = messageNamed(doc, "heartbeat")!;
  assert.equal(heartbeat.payload.allOf[1].$ref, `#/components/schemas/payload.${heartbeatKey}`);
  assert.deepEqual(schemas[`payload.${heartbeatKey}`], {
    type: "object",
    properties: { worker_id: { type: "string" } },
    required: ["worker_id"],
  });
  const echo = schemas[`payload.${messageNamed(doc, "echo")![0]}`];
  assert.deepEqual(echo.required, ["text"]);
  assert.equal(echo.properties.max_tokens.type, "integer");
  // The request header is core's headerSchema.
  assert.deepEqual(schemas.RequestHeader.required, ["message_id", "message_type", "protocol_version", "timestamp"]);
  assert.ok(schemas.RequestHeader.properties.timestamp.pattern);
  // The legacy handler's schema.
  assert.deepEqual(schemas["payload.legacy"].required, ["session_id", "step"]);
  // The error reply: code, message, details beside the header.
  assert.deepEqual((doc.components.messages.error as any).payload.required, ["header", "code", "message"]);
  assert.ok((schemas.ErrorCode.examples as string[]).includes("UNKNOWN_MESSAGE_TYPE"));
  await n.close();
});

test("schemas JSON Schema cannot express do not throw: {} with a description", async () => {
  const n = await node([awkwardPlugin]);
  const doc = asyncApiDocument(n);
  await validate(doc);
  const schemas = doc.components.schemas as Record<string, any>;
  const payload = (type: string) => schemas[`payload.${messageNamed(doc, type)![0]}`];

  const transformed = payload("transformed");
  assert.deepEqual(transformed.properties.n, { type: "string" }, "a transform is described by its input");
  assert.match(transformed.properties.when.description, /Date/);
  assert.match(transformed.properties.f.description, /Custom/);
  assert.equal(transformed.properties.f.type, undefined);

  assert.match(payload("refined").description, /further rules/);
  assert.equal(payload("refined").properties.a.type, "integer");

  const whole = payload("whole-transform");
  assert.equal(whole.type, undefined);
  assert.match(whole.description, /Transforms/);

  // Recursive schemas: definitions moved to components, references rewritten.
  const treeKey = messageNamed(doc, "tree")![0];
  const tree = payload("tree");
  const ref = tree.properties.root.$ref as string;
  assert.match(ref, new RegExp(`^#/components/schemas/payload\\.${treeKey}\\.`));
  assert.ok(schemas[ref.split("/").pop()!], "the definition exists");
  assert.doesNotMatch(JSON.stringify(doc), /"#\/(definitions|\$defs)\//);

  // Keys are sanitised and unique; names stay the message types.
  assert.ok(messageNamed(doc, "ns/odd type"));
  assert.ok(Object.keys(doc.components.messages).every((k) => /^[\w.-]+$/.test(k)));
  const errors = Object.values(doc.components.messages).filter((m) => m.name === "error");
  assert.equal(errors.length, 2, "the request type \"error\" and the error reply are two messages");
  await n.close();
});

test("without a legacy handler: no legacy request or reply; the legacy error shape stays (UNRECOGNIZED_MESSAGE)", async () => {
  const n = await node([testPlugin({ legacy: false })]);
  const doc = asyncApiDocument(n);
  await validate(doc);
  assert.equal(doc.components.messages.legacy, undefined);
  assert.equal(doc.operations.receive_legacy, undefined);
  assert.ok(doc.components.messages.legacy_error);
  await n.close();
});

test("the server: a given host, or a {host} variable when absent or not a plain host", async () => {
  const n = await node([testPlugin()]);
  assert.deepEqual(
    { host: asyncApiDocument(n, { host: "node-3.internal:8702", protocol: "wss" }).servers.node.host, protocol: asyncApiDocument(n, { protocol: "wss" }).servers.node.protocol },
    { host: "node-3.internal:8702", protocol: "wss" },
  );
  assert.equal(asyncApiDocument(n, { host: "[::1]:8702" }).servers.node.host, "[::1]:8702");
  for (const host of [undefined, "", "evil.com/<script>", "a b", "x".repeat(300)]) {
    const server = asyncApiDocument(n, { host }).servers.node as any;
    assert.equal(server.host, "{host}");
    assert.equal(server.variables.host.default, "localhost:8702");
  }
  await validate(asyncApiDocument(n, { host: "127.0.0.1:8702" }));
  await n.close();
});

test("each call returns a fresh copy; the registry alone works too", async () => {
  const n = await node([testPlugin()]);
  const a = asyncApiDocument(n);
  (a.components.messages.error as any).name = "changed";
  const b = asyncApiDocument(n.registry);
  assert.equal(b.components.messages.error.name, "error");
  assert.deepEqual(JSON.parse(JSON.stringify(b)), b, "plain JSON");
  await n.close();
});

test("handlers that declare replySchema / replies are described with them", async () => {
  const base = (await node([testPlugin({ legacy: false })])).registry;
  const streamed = {
    ...base.get("count")!,
    replySchema: z.object({ done: z.boolean(), sent: z.int() }),
    replies: { count_chunk: z.object({ i: z.int() }) },
  };
  const registry = {
    types: () => base.types(),
    get: (type: string) => (type === "count" ? streamed : base.get(type)),
    legacy: undefined,
  } as unknown as HandlerRegistry;
  const doc = asyncApiDocument(registry);
  await validate(doc);
  const [countKey] = messageNamed(doc, "count")!;
  const replies = (doc.operations[`receive_${countKey}`].reply as any).messages.map((m: any) => doc.components.messages[m.$ref.split("/").pop()].name);
  assert.deepEqual(replies, ["count_response", "count_chunk", "error"]);
  const [, chunk] = messageNamed(doc, "count_chunk")!;
  const chunkSchema = doc.components.schemas[chunk.payload.allOf[1].$ref.split("/").pop()] as any;
  assert.deepEqual(chunkSchema.required, ["i"]);
});

test("GET /asyncapi.json serves the document of the node's own message types, with the request's host", async () => {
  const node = await createNode({ logLevel: "silent", plugins: [testPlugin()] });
  const { port } = await node.listen(0, "127.0.0.1");
  try {
    const res = await fetch(`http://127.0.0.1:${port}/asyncapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as { asyncapi: string; servers: Record<string, { host: string }>; components: { messages: Record<string, unknown> } };
    assert.equal(doc.asyncapi, "3.0.0");
    assert.equal(Object.values(doc.servers)[0].host, `127.0.0.1:${port}`);
    const names = JSON.stringify(doc.components.messages);
    for (const type of node.registry.types()) assert.ok(names.includes(type), `${type} is in the served document`);
    assert.equal(node.getStats().http_requests, 0, "reading the document is not a request");
  } finally {
    await node.close();
  }
});

test("what core itself sends is described from core's zod schemas: the reply header, the error frame, the legacy error", async () => {
  const n = await node([testPlugin()]);
  const doc = asyncApiDocument(n);
  const schemas = doc.components.schemas as Record<string, any>;
  const messages = doc.components.messages as Record<string, any>;
  assert.deepEqual(schemas.ReplyHeader.required, Object.keys(replyHeaderSchema.shape));
  assert.equal(schemas.ReplyHeader.properties.protocol_version.const, PROTOCOL_VERSION);
  assert.deepEqual(schemas.ReplyHeader.properties.correlation_id.type, ["string", "null"]);
  assert.equal(schemas.ErrorCode.pattern, "^[A-Z][A-Z0-9_]*$");
  assert.deepEqual(schemas.ErrorCode.examples, errorCodeSchema.meta()?.examples);
  const error = messages.error.payload;
  assert.deepEqual(Object.keys(error.properties), ["header", ...Object.keys(errorBodySchema.shape)]);
  assert.deepEqual(error.properties.code, { $ref: "#/components/schemas/ErrorCode" });
  const legacyError = messages.legacy_error.payload;
  assert.deepEqual(legacyError.required, ["session_id", "step", "error"]);
  assert.deepEqual(legacyError.properties.error.properties.code, { $ref: "#/components/schemas/ErrorCode" });
  assert.deepEqual(legacyError.properties.error.required, ["code", "message"]);
  // Every receive operation may be answered by the error in its format.
  for (const [name, op] of Object.entries(doc.operations).filter(([, o]) => o.action === "receive")) {
    const replies = (op.reply as any).messages.map((m: any) => m.$ref.split("/").pop());
    assert.ok(replies.includes(name === "receive_legacy" ? "legacy_error" : "error"), `${name} documents its error reply`);
  }
  await validate(doc);
  await n.close();
});
