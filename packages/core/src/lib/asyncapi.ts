/**
 * An AsyncAPI 3.0 description of what a node serves, generated from its handler registry: one
 * server, one channel ("/", the node's single WebSocket port), a message per registered request
 * type (the standard envelope: the header plus the handler's zod payload schema as JSON Schema),
 * its reply and the error reply, a receive operation per request type (with its replies) and a
 * send operation per reply type; the legacy format as its own messages when a legacy handler is
 * registered. docs/protocol.md is the same contract in prose.
 *
 * Reply payloads come from the handlers' declarations (MessageHandlerOptions): `replySchema`, the
 * payload of its default reply type, and `replies`, the other types it sends (e.g. streamed
 * chunks), each with its zod schema; a reply type nobody declared a schema for is described as
 * the reply envelope with an open payload. The legacy handler's `replySchema` is the legacy reply.
 */
import type { ZodType } from "zod";
import { ERROR_CODE, ERROR_MESSAGE, LEGACY_ERROR_MESSAGE, LEGACY_REPLY_MESSAGE, REPLY_HEADER, typeHeader } from "./asyncapi-envelopes.js";
import { CORE_VERSION } from "./core-identity.js";
import { headerSchema, PROTOCOL_VERSION } from "./header.js";
import type { HandlerRegistry, RegisteredHandler } from "./registry.js";
import { zodToJsonSchema, type JsonSchema } from "./zod-json-schema.js";

export type { JsonSchema } from "./zod-json-schema.js";

export interface AsyncApiOptions {
  /**
   * `host[:port]` clients connect to (e.g. the HTTP request's Host header). When absent or not a
   * plain host name/address with an optional port, the server's host is the variable `{host}`.
   */
  host?: string;
  /** `"wss"` when the node serves TLS. Default `"ws"`. */
  protocol?: "ws" | "wss";
  /** Default "modelnode". */
  title?: string;
  /** Replaces the default description of the API. */
  description?: string;
}

/** An AsyncAPI 3.0.0 document (plain JSON). */
export interface AsyncApiDocument {
  asyncapi: "3.0.0";
  info: { title: string; version: string; description: string; [extension: `x-${string}`]: unknown };
  defaultContentType: "application/json";
  servers: Record<string, JsonSchema>;
  channels: Record<string, JsonSchema>;
  operations: Record<string, JsonSchema>;
  components: { schemas: Record<string, JsonSchema>; messages: Record<string, JsonSchema> };
}

const CHANNEL = "root";
const CHANNEL_REF = { $ref: `#/channels/${CHANNEL}` };
const DEFAULT_HOST = "localhost:8702";
/** A host name, IPv4 or bracketed IPv6 address, optionally with a port: nothing else is echoed. */
const PLAIN_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

type Body = Pick<AsyncApiDocument, "channels" | "operations" | "components">;
const cache = new WeakMap<HandlerRegistry, Body>();

/**
 * The AsyncAPI 3.0 document of a node (or of a registry). The part built from the registry is
 * computed once per registry; each call returns a fresh copy, with the server from `options`.
 */
export function asyncApiDocument(source: HandlerRegistry | { registry: HandlerRegistry }, options: AsyncApiOptions = {}): AsyncApiDocument {
  const registry = "registry" in source ? source.registry : source;
  let body = cache.get(registry);
  if (!body) {
    body = build(registry);
    cache.set(registry, body);
  }
  return {
    asyncapi: "3.0.0",
    info: {
      title: options.title ?? "modelnode",
      version: CORE_VERSION,
      description: options.description ?? DESCRIPTION,
      "x-protocol-version": PROTOCOL_VERSION,
    },
    defaultContentType: "application/json",
    servers: { node: server(options) },
    ...structuredClone(body),
  };
}

const DESCRIPTION =
  "A modelnode model node: one WebSocket port speaking the standard protocol v2.0 (JSON objects with a " +
  "`header` object) and, when a legacy handler is registered, the legacy step format (JSON objects with a " +
  "`session_id` and no `header`), detected per message. Text frames, or binary frames holding UTF-8 JSON. " +
  "Every standard reply carries `header.correlation_id` = the request's `header.message_id`; replies to " +
  "different requests on one connection may come in any order, the frames of one streamed request come in " +
  "order and its final reply last. Any request may be answered by an `error` message instead.";

function server(options: AsyncApiOptions): JsonSchema {
  const protocol = options.protocol ?? "ws";
  const description = "The node's one port: WebSocket upgrades (the channel is `/`) and the node's plain-HTTP endpoints.";
  if (options.host !== undefined && options.host.length <= 261 && PLAIN_HOST.test(options.host)) {
    return { host: options.host, protocol, description };
  }
  return {
    host: "{host}",
    protocol,
    description,
    variables: { host: { default: DEFAULT_HOST, description: "host:port of the node (default port 8702)" } },
  };
}

/** Allocates component keys (`^[\w.-]+$`), unique across every message of the document. */
class Keys {
  private readonly used = new Set<string>();

  take(wanted: string): string {
    const base = wanted.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 120) || "message";
    let key = base;
    for (let n = 2; this.used.has(key); n++) key = `${base}_${n}`;
    this.used.add(key);
    return key;
  }
}

interface ReplyEntry {
  key: string;
  type: string;
  /** Declared payload schemas (component refs), from every handler that declared one. */
  payloads: JsonSchema[];
  sentBy: string[];
}

function build(registry: HandlerRegistry): Body {
  const schemas: Record<string, JsonSchema> = {
    RequestHeader: requestHeaderSchema(),
    ReplyHeader: REPLY_HEADER,
    ErrorCode: ERROR_CODE,
  };
  const messages: Record<string, JsonSchema> = {};
  const operations: Record<string, JsonSchema> = {};
  const keys = new Keys();
  keys.take("error");
  keys.take("legacy");
  keys.take("legacy_reply");
  keys.take("legacy_error");

  const handlers = registry.types().map((type) => registry.get(type)!);
  const requestKeys = new Map(handlers.map((h) => [h.type, keys.take(h.type)]));
  const replies = new Map<string, ReplyEntry>();
  const replyOf = (type: string): ReplyEntry => {
    let entry = replies.get(type);
    if (!entry) replies.set(type, (entry = { key: keys.take(`${type}${requestKeys.has(type) ? "_reply" : ""}`), type, payloads: [], sentBy: [] }));
    return entry;
  };

  for (const handler of handlers) {
    const key = requestKeys.get(handler.type)!;
    const payloadKey = `payload.${key}`;
    schemas[payloadKey] = zodToJsonSchema(handler.schema, payloadKey, schemas, `message type "${handler.type}"`);
    messages[key] = requestMessage(handler, payloadKey);

    const replyTypes: ReplyEntry[] = [];
    const addReply = (type: string, schema: ZodType | undefined) => {
      const entry = replyOf(type);
      if (!entry.sentBy.includes(handler.type)) entry.sentBy.push(handler.type);
      if (schema !== undefined && isZod(schema)) {
        const schemaKey = `reply.${entry.key}${entry.payloads.length > 0 ? `.${entry.payloads.length + 1}` : ""}`;
        schemas[schemaKey] = zodToJsonSchema(schema, schemaKey, schemas, `reply type "${type}"`);
        entry.payloads.push({ $ref: `#/components/schemas/${schemaKey}` });
      }
      if (!replyTypes.includes(entry)) replyTypes.push(entry);
    };
    addReply(handler.replyType, handler.replySchema);
    for (const [type, schema] of Object.entries(handler.replies ?? {})) addReply(type, schema);

    operations[`receive_${key}`] = {
      action: "receive",
      channel: CHANNEL_REF,
      title: `Receive ${handler.type}`,
      summary: `A client sends \`${handler.type}\`; the node answers with ${replyTypes.map((r) => `\`${r.type}\``).join(", ")} or \`error\`.`,
      messages: [channelRef(key)],
      reply: { channel: CHANNEL_REF, messages: [...replyTypes.map((r) => channelRef(r.key)), channelRef("error")] },
      tags: [{ name: handler.plugin }],
    };
  }

  for (const entry of replies.values()) {
    messages[entry.key] = replyMessage(entry);
    operations[`send_${entry.key}`] = {
      action: "send",
      channel: CHANNEL_REF,
      title: `Send ${entry.type}`,
      summary: `The node's reply to ${entry.sentBy.map((t) => `\`${t}\``).join(", ")}.`,
      messages: [channelRef(entry.key)],
    };
  }

  messages.error = ERROR_MESSAGE;
  operations.send_error = {
    action: "send",
    channel: CHANNEL_REF,
    title: "Send error",
    summary: "The node refuses a standard-protocol message, or a frame it could not classify.",
    messages: [channelRef("error")],
  };

  const legacy = registry.legacy;
  if (legacy) {
    schemas["payload.legacy"] = zodToJsonSchema(legacy.schema, "payload.legacy", schemas, "the legacy format");
    messages.legacy = legacyMessage(legacy);
    messages.legacy_reply = legacyReplyMessage(legacy, schemas);
    operations.receive_legacy = {
      action: "receive",
      channel: CHANNEL_REF,
      title: "Receive a legacy message",
      summary: "A client sends a legacy step; the node answers in the legacy format.",
      messages: [channelRef("legacy")],
      reply: { channel: CHANNEL_REF, messages: [channelRef("legacy_reply"), channelRef("legacy_error")] },
      tags: [{ name: legacy.plugin }],
    };
    operations.send_legacy_reply = {
      action: "send",
      channel: CHANNEL_REF,
      title: "Send a legacy reply",
      messages: [channelRef("legacy_reply")],
    };
  }
  // Sent even without a legacy handler: a legacy-shaped message then gets UNRECOGNIZED_MESSAGE in this shape.
  messages.legacy_error = LEGACY_ERROR_MESSAGE;
  operations.send_legacy_error = {
    action: "send",
    channel: CHANNEL_REF,
    title: "Send a legacy error",
    summary: legacy
      ? "The node refuses a legacy message."
      : "This node serves no legacy handler: every legacy-shaped message (a `session_id`, no `header`) gets UNRECOGNIZED_MESSAGE in this shape.",
    messages: [channelRef("legacy_error")],
  };

  const channelMessages = Object.fromEntries(Object.keys(messages).map((key) => [key, { $ref: `#/components/messages/${key}` }]));
  return {
    channels: {
      [CHANNEL]: {
        address: "/",
        title: "The node's WebSocket",
        description:
          "Every message of both formats travels on this one connection, in both directions. The node sends nothing " +
          "the client did not ask for (no welcome frame; streamed frames only when a request asks for them).",
        messages: channelMessages,
      },
    },
    operations,
    components: { schemas, messages },
  };
}

function channelRef(key: string): JsonSchema {
  return { $ref: `#/channels/${CHANNEL}/messages/${key}` };
}

function requestMessage(handler: RegisteredHandler, payloadKey: string): JsonSchema {
  return {
    name: handler.type,
    title: handler.type,
    summary: `Standard request \`${handler.type}\` (handler ${handler.className}, plugin "${handler.plugin}").`,
    contentType: "application/json",
    correlationId: { description: "Replies carry this in header.correlation_id.", location: "$message.payload#/header/message_id" },
    payload: {
      allOf: [
        {
          type: "object",
          required: ["header"],
          properties: { header: { allOf: [{ $ref: "#/components/schemas/RequestHeader" }, typeHeader(handler.type)] } },
        },
        { $ref: `#/components/schemas/${payloadKey}` },
      ],
    },
    tags: [{ name: handler.plugin }],
    "x-modelnode-handler": handler.className,
    "x-modelnode-plugin": handler.plugin,
  };
}

function replyMessage(entry: ReplyEntry): JsonSchema {
  const envelope: JsonSchema = {
    type: "object",
    required: ["header"],
    properties: { header: { allOf: [{ $ref: "#/components/schemas/ReplyHeader" }, typeHeader(entry.type)] } },
  };
  const declared = entry.payloads.length === 0 ? undefined : entry.payloads.length === 1 ? entry.payloads[0] : { anyOf: entry.payloads };
  return {
    name: entry.type,
    title: entry.type,
    summary: `The node's \`${entry.type}\`, answering ${entry.sentBy.map((t) => `\`${t}\``).join(", ")}.`,
    ...(declared
      ? {}
      : { description: "The reply envelope; its payload fields (beside the header) are defined by the handler and not declared to core (see docs/protocol.md)." }),
    contentType: "application/json",
    correlationId: { description: "The request's header.message_id.", location: "$message.payload#/header/correlation_id" },
    payload: declared ? { allOf: [envelope, declared] } : envelope,
  };
}

/** The legacy handler's declared replySchema, or core's outline of a legacy reply. */
function legacyReplyMessage(handler: RegisteredHandler, schemas: Record<string, JsonSchema>): JsonSchema {
  if (handler.replySchema === undefined || !isZod(handler.replySchema)) return LEGACY_REPLY_MESSAGE;
  schemas["reply.legacy"] = zodToJsonSchema(handler.replySchema, "reply.legacy", schemas, "the legacy reply");
  return { ...LEGACY_REPLY_MESSAGE, summary: "The reply to a legacy step.", payload: { $ref: "#/components/schemas/reply.legacy" } };
}

function legacyMessage(handler: RegisteredHandler): JsonSchema {
  return {
    name: "legacy",
    title: "Legacy step",
    summary: `The legacy format: a JSON object with \`session_id\` and no \`header\` object (handler ${handler.className}, plugin "${handler.plugin}").`,
    contentType: "application/json",
    correlationId: { description: "Replies echo session_id and step.", location: "$message.payload#/session_id" },
    payload: { $ref: "#/components/schemas/payload.legacy" },
    tags: [{ name: handler.plugin }],
    "x-modelnode-handler": handler.className,
    "x-modelnode-plugin": handler.plugin,
  };
}

function requestHeaderSchema(): JsonSchema {
  const schema = zodToJsonSchema(headerSchema, "RequestHeader", {}, "the header");
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  const notes: Record<string, string> = {
    message_id: "Unique per request; the reply's header.correlation_id.",
    message_type: "Selects the handler.",
    protocol_version: 'Any 2.x ("2", "2.0", "2.1", …); another major is UNSUPPORTED_PROTOCOL_VERSION.',
    timestamp: "ISO-8601 date or date-time, with or without a zone.",
    license_hash: "From authentication_response; authenticates this message when the node requires authentication.",
    correlation_id: "Ignored on requests.",
  };
  for (const [name, text] of Object.entries(notes)) {
    if (properties?.[name]) properties[name] = { description: text, ...properties[name] };
  }
  return { description: "The standard-protocol header of a request. Further fields are allowed and ignored.", ...schema };
}

function isZod(value: unknown): value is ZodType {
  return typeof (value as { safeParse?: unknown } | null)?.safeParse === "function";
}
