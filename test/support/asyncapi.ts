/**
 * Holds frames a node sent to the AsyncAPI document it serves: a reply to a request of type T
 * must be one of the reply messages of T's receive operation (by its message_type, or for a
 * legacy request legacy_reply / legacy_error), and validate against that message's payload,
 * the document's own JSON Schema, compiled with ajv. So the test reads the contract a client
 * would read, not the zod schemas it was generated from.
 */
import { Ajv, type ValidateFunction } from "ajv";

type Json = Record<string, any>;

export interface DocumentCheck {
  /** What is wrong with `frame` as a reply to a request of `requestType` ("legacy" for the legacy format); [] when it is as documented. */
  problems(requestType: string, frame: unknown): string[];
  /** Throws, naming the problems, unless `frame` is as documented. */
  check(requestType: string, frame: unknown): void;
  /** The names of the messages frames were checked against so far (e.g. "inference_chunk", "legacy_error"). */
  readonly seen: Set<string>;
}

const MESSAGE_REF = /^#\/channels\/[^/]+\/messages\/(.+)$/;

export function documentCheck(doc: Json): DocumentCheck {
  const ajv = new Ajv({ allErrors: true, strictTypes: false, strictTuples: false, logger: false });
  // The reply header's timestamp: ISO-8601 as Date reads it (its pattern says the rest).
  ajv.addFormat("date-time", (text: string) => !Number.isNaN(Date.parse(text)));
  ajv.addSchema({ $id: "components", definitions: withLocalRefs(doc.components.schemas) });
  const compiled = new Map<string, ValidateFunction>();
  const validator = (key: string): ValidateFunction => {
    let validate = compiled.get(key);
    if (!validate) compiled.set(key, (validate = ajv.compile(withLocalRefs(doc.components.messages[key].payload))));
    return validate;
  };
  const seen = new Set<string>();

  const replyKeys = (requestType: string): string[] | string => {
    const operation = Object.values(doc.operations as Record<string, Json>).find(
      (op) => op.action === "receive" && op.messages.some((m: Json) => messageOf(doc, m.$ref)?.name === requestType),
    );
    if (!operation) return `the document has no receive operation for "${requestType}"`;
    return (operation.reply?.messages ?? []).map((m: Json) => keyOf(m.$ref));
  };

  const problems = (requestType: string, frame: unknown): string[] => {
    if (typeof frame !== "object" || frame === null || Array.isArray(frame)) return [`not a JSON object: ${JSON.stringify(frame)}`];
    const keys = replyKeys(requestType);
    if (typeof keys === "string") return [keys];
    const f = frame as Json;
    const name = requestType === "legacy" ? ("error" in f ? "legacy_error" : "legacy_reply") : f.header?.message_type;
    const key = keys.find((k) => doc.components.messages[k]?.name === name);
    if (!key) return [`"${name}" is not among the documented replies to "${requestType}" (${keys.map((k) => doc.components.messages[k]?.name).join(", ")})`];
    seen.add(name);
    const validate = validator(key);
    if (validate(frame)) return [];
    return (validate.errors ?? []).map((e) => `${name}: ${e.instancePath || "(the frame)"} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ""}`);
  };

  return {
    problems,
    check(requestType, frame) {
      const found = problems(requestType, frame);
      if (found.length > 0) throw new Error(`a frame is not as the document says:\n- ${found.join("\n- ")}\nframe: ${JSON.stringify(frame)}`);
    },
    seen,
  };
}

function keyOf(ref: string): string {
  const match = MESSAGE_REF.exec(ref);
  if (!match) throw new Error(`not a channel message reference: ${ref}`);
  return match[1];
}

function messageOf(doc: Json, ref: string): Json | undefined {
  return doc.components.messages[keyOf(ref)];
}

/** The document's `#/components/schemas/X` references, as references into the "components" schema added to ajv. */
function withLocalRefs(value: unknown): any {
  if (Array.isArray(value)) return value.map(withLocalRefs);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      k === "$ref" && typeof v === "string" ? v.replace(/^#\/components\/schemas\//, "components#/definitions/") : withLocalRefs(v),
    ]),
  );
}
