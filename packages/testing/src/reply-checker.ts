/**
 * Holds what a node really sends to what its handlers declare (MessageHandlerOptions.replySchema
 * and `replies`), so that a declaration (and the AsyncAPI document built from it) cannot drift
 * from the code: a standard frame is checked by its header.message_type against the schema its
 * handler declared for that type, its header against core's reply header (replyHeaderSchema), an
 * error frame against core's error shape (errorBodySchema); a legacy frame against the legacy
 * handler's replySchema, a legacy error against core's legacyErrorSchema. These are the schemas
 * the AsyncAPI document is built from. Fields that a schema drops (z.object strips what it does
 * not name) count as problems too: a reply schema describes everything the node sends (a
 * z.looseObject says that further fields are allowed). A reply type nobody declared a schema
 * for is a problem: with the checker on, every reply must be declared.
 */
import { isDeepStrictEqual } from "node:util";
import { LEGACY_FORMAT, type HandlerKey, type ZodType } from "@modelnode/core";
import { errorBodySchema, legacyErrorSchema, replyHeaderSchema } from "@modelnode/core/protocol";
import type { HandlerRegistry, ModelNode, RegisteredHandler } from "@modelnode/core/server";
import type { Frame } from "./harness.js";

export interface ReplyChecker {
  /**
   * What is wrong with one frame the node sent, as parsed JSON ([] when it is as declared).
   * `request`: the message_type of the request it answers, when known, so that a reply type that
   * handler does not declare is a problem even when another handler declares it.
   */
  problems(frame: unknown, request?: string): string[];
  /** Throws an Error listing the problems unless the frame is as declared. */
  check(frame: unknown, request?: string): void;
  /** The same for a reply as invokeHandler gives it ({ type, payload }) from the handler of `key`. */
  checkReply(key: HandlerKey, frame: Frame): void;
}

export function replyChecker(source: ModelNode | HandlerRegistry): ReplyChecker {
  const registry = "registry" in source ? source.registry : source;
  const handlers = registry.types().map((type) => registry.get(type)!);

  /** The schema `handler` declared for reply type `type`; a string saying why there is none otherwise. */
  const declaredBy = (handler: RegisteredHandler, type: string): ZodType | string => {
    if (type === handler.replyType) return handler.replySchema ?? `${describe(handler)} declares no replySchema for its "${type}"`;
    return handler.replies[type] ?? `${describe(handler)} sent "${type}", which it does not declare (it declares ${declaredTypes(handler)})`;
  };
  /** Without the request: the schemas every handler declared for `type`. */
  const declaredByAny = (type: string): ZodType[] | string => {
    const schemas = handlers.flatMap((h) => (h.replyType === type ? [h.replySchema] : []).concat(h.replies[type] ?? []).filter((s) => s !== undefined));
    return schemas.length > 0 ? schemas : `no handler declares a schema for reply type "${type}"`;
  };

  const problems = (frame: unknown, request?: string): string[] => {
    if (!isObject(frame) || isUnparsed(frame)) return [`not a JSON object: ${clip(frame)}`];
    if (!("header" in frame)) return legacyProblems(frame);
    const { header, ...payload } = frame;
    const found = against(replyHeaderSchema, header, "header");
    if (!isObject(header) || typeof header.message_type !== "string") return found;
    const type = header.message_type;
    if (type === "error") return found.concat(against(errorBodySchema, payload, `error ${clip(payload)}`));
    const handler = request === undefined ? undefined : registry.get(request);
    const schemas = handler ? declaredBy(handler, type) : declaredByAny(type);
    if (typeof schemas === "string") return found.concat(schemas);
    return found.concat(firstMatch(Array.isArray(schemas) ? schemas : [schemas], payload, `"${type}" ${clip(payload)}`));
  };

  const legacyProblems = (frame: Record<string, unknown>): string[] => {
    if ("error" in frame) return against(legacyErrorSchema, frame, `legacy error ${clip(frame)}`);
    const legacy = registry.legacy;
    if (!legacy) return [`a legacy reply, but the node has no legacy handler: ${clip(frame)}`];
    if (!legacy.replySchema) return [`${describe(legacy)} declares no replySchema`];
    return against(legacy.replySchema, frame, `legacy reply ${clip(frame)}`);
  };

  const throwIf = (found: string[]): void => {
    if (found.length > 0) throw new Error(`a frame the node sent is not as declared:\n- ${found.join("\n- ")}`);
  };

  return {
    problems,
    check: (frame, request) => throwIf(problems(frame, request)),
    checkReply(key, frame) {
      const handler = key === LEGACY_FORMAT ? registry.legacy : registry.get(key);
      if (!handler) throw new Error(`no handler registered for ${key === LEGACY_FORMAT ? "the legacy format" : `"${key}"`}`);
      const schema = key === LEGACY_FORMAT ? (handler.replySchema ?? `${describe(handler)} declares no replySchema`) : declaredBy(handler, frame.type);
      throwIf(typeof schema === "string" ? [schema] : against(schema, frame.payload, `"${frame.type}" ${clip(frame.payload)}`));
    },
  };
}

/** The problems of `value` against the first of `schemas` it matches, or of the first one when none does. */
function firstMatch(schemas: ZodType[], value: unknown, what: string): string[] {
  let first: string[] | undefined;
  for (const schema of schemas) {
    const found = against(schema, value, what);
    if (found.length === 0) return found;
    first ??= found;
  }
  return first ?? [];
}

/** Validation issues, then the fields the schema does not name (what parsing dropped). */
function against(schema: ZodType, value: unknown, what: string): string[] {
  const parsed = schema.safeParse(value);
  if (!parsed.success) return parsed.error.issues.map((issue) => `${what}: ${issue.path.join(".") || "(the whole)"}: ${issue.message}`);
  return undeclared(value, parsed.data).map((path) => `${what}: field "${path}" is not in the declared schema`);
}

/** Paths present in what was sent and missing from what the schema made of it. */
function undeclared(sent: unknown, kept: unknown, path = ""): string[] {
  if (Array.isArray(sent) && Array.isArray(kept)) return sent.flatMap((item, i) => undeclared(item, kept[i], `${path}[${i}]`));
  if (!isObject(sent) || !isObject(kept)) return [];
  return Object.keys(sent).flatMap((key) => {
    const at = path ? `${path}.${key}` : key;
    if (!(key in kept) && sent[key] !== undefined) return [at];
    return isDeepStrictEqual(sent[key], kept[key]) ? [] : undeclared(sent[key], kept[key], at);
  });
}

/** TestClient's stand-in for a frame that was not JSON. */
function isUnparsed(frame: Record<string, unknown>): boolean {
  return typeof frame.raw === "string" && Object.keys(frame).length === 1;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(handler: RegisteredHandler): string {
  return `${handler.className} (plugin "${handler.plugin}")`;
}

function declaredTypes(handler: RegisteredHandler): string {
  return [handler.replyType, ...Object.keys(handler.replies)].map((t) => `"${t}"`).join(", ");
}

function clip(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
