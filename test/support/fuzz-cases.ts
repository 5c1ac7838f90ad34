/**
 * fast-check arbitraries for hostile frames: valid messages of every type, mutated (fields
 * replaced by values of every JSON type, huge numbers and strings, deep nesting, `__proto__` /
 * `constructor` keys, fields removed, types swapped), and raw frames (truncated JSON, random and
 * invalid-UTF-8 bytes, empty frames, JSON that is not an object, oversize frames).
 */
import fc from "fast-check";

export interface FuzzLimits {
  maxMessageBytes: number;
  maxPayloadBytes: number;
}

/** One frame to send. `utf8: false` text frames are refused by the WebSocket layer (1007). */
export interface FrameCase {
  label: string;
  data: string | Buffer;
  binary: boolean;
  /** Set for text frames whose bytes are not UTF-8. */
  invalidUtf8?: boolean;
}

/** Placeholders replaced in the JSON text after stringify: things JSON.stringify cannot write. */
const RAW = {
  huge: '"__raw_huge__"',
  tiny: '"__raw_tiny__"',
  deepArray: '"__raw_deep_array__"',
  deepObject: '"__raw_deep_object__"',
  protoKey: '"__raw_proto__"',
  ctorKey: '"__raw_constructor__"',
};

function finish(text: string, depth: number): string {
  return text
    .replaceAll(RAW.huge, "1e999")
    .replaceAll(RAW.tiny, "-1e-999")
    .replaceAll(RAW.deepArray, "[".repeat(depth) + "]".repeat(depth))
    .replaceAll(RAW.deepObject, '{"a":'.repeat(depth) + "1" + "}".repeat(depth))
    .replaceAll(RAW.protoKey, '"__proto__"')
    .replaceAll(RAW.ctorKey, '"constructor"');
}

const pollution = fc.constantFrom<unknown>(
  { polluted: "yes" },
  { prototype: { polluted: "yes" } },
  { toString: "polluted", valueOf: 1, hasOwnProperty: null },
  "polluted",
);

/** Keys that would pollute a prototype if something assigned them naively. */
const protoEntry = fc.tuple(fc.constantFrom("__raw_proto__", "__raw_constructor__", "prototype", "__proto__"), pollution);

const hugeString = fc.integer({ min: 1000, max: 40_000 }).map((n) => "Z".repeat(n));

/** Any value a hostile client might put in a field. */
export const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  fc.constantFrom<unknown>(
    "__raw_huge__", "__raw_tiny__", "__raw_deep_array__", "__raw_deep_object__",
    1e308, -1e308, 5e-324, 2 ** 53, 2 ** 64, -1, 0, 0.5, -0.5, 1.5, "", " ", "\u0000", "\ud800", "\uffff", "10", "true",
    null, true, false, [], {}, [1, 2, 3], { a: 1 }, "2.0", "3.0", "heartbeat",
  ),
  hugeString,
  fc.string({ maxLength: 40, unit: "binary" }),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }),
);

type Message = Record<string, unknown>;
const header = (type: string, extra: Message = {}): Message => ({
  message_id: "fuzz-id",
  message_type: type,
  protocol_version: "2.0",
  timestamp: "2024-01-01T12:00:00Z",
  ...extra,
});

/** Valid messages of every type the example node serves, plus an unknown one; inference kept cheap. */
export const validMessage: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ header: fc.constant(header("heartbeat")), worker_id: fc.string({ minLength: 1, maxLength: 20 }) }),
  fc.record({ header: fc.constant(header("list_models")) }),
  fc.record({
    header: fc.constant(header("inference_request")),
    model_id: fc.constantFrom("tiny-gpt2", "nope"),
    prompt: fc.string({ minLength: 1, maxLength: 30 }),
    max_tokens: fc.integer({ min: 1, max: 3 }),
    temperature: fc.constantFrom(0, 0.7, 2),
    presence_penalty: fc.constantFrom(0, -1, 1.5),
    logit_bias: fc.constantFrom({}, { "13": -100 }, { "0": 5, "50256": 100 }),
    logprobs: fc.boolean(),
    stream: fc.boolean(),
  }),
  fc.record({
    session_id: fc.constantFrom("s1", "s2", "fuzz"),
    step: fc.integer({ min: 0, max: 3 }),
    input_tensors: fc.oneof(
      fc.record({ input_ids: fc.array(fc.integer({ min: 0, max: 50_300 }), { minLength: 1, maxLength: 8 }) }),
      fc.record({ input_ids: fc.string({ minLength: 1, maxLength: 20 }) }),
    ),
  }),
  fc.record({ header: fc.constant(header("authentication")), license_key: fc.string({ minLength: 1, maxLength: 20 }) }),
  fc.record({ header: fc.constant(header("no_such_type")), x: fc.integer() }),
);

const FIELDS = [
  "header", "worker_id", "model_id", "prompt", "max_tokens", "temperature", "top_p", "top_k", "seed", "stop", "stream",
  "min_p", "presence_penalty", "frequency_penalty", "repetition_penalty", "logit_bias", "logprobs", "top_logprobs",
  "session_id", "step", "input_tensors", "license_key", "extra",
];
const HEADER_FIELDS = ["message_id", "message_type", "protocol_version", "timestamp", "license_hash", "correlation_id"];
const TENSOR_FIELDS = ["input_ids", "attention_mask"];

type Mutation = (m: Message) => void;

const objectAt = (m: Message, where: "top" | "header" | "tensors"): Message | undefined => {
  if (where === "top") return m;
  const inner = m[where === "header" ? "header" : "input_tensors"];
  return inner !== null && typeof inner === "object" && !Array.isArray(inner) ? (inner as Message) : undefined;
};

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.constantFrom(...FIELDS), weirdValue).map(([k, v]): Mutation => (m) => void (m[k] = v)),
  fc.tuple(fc.constantFrom(...HEADER_FIELDS), weirdValue).map(([k, v]): Mutation => (m) => void (objectAt(m, "header") && (objectAt(m, "header")![k] = v))),
  fc.tuple(fc.constantFrom(...TENSOR_FIELDS), weirdValue).map(([k, v]): Mutation => (m) => void (objectAt(m, "tensors") && (objectAt(m, "tensors")![k] = v))),
  fc.constantFrom(...FIELDS).map((k): Mutation => (m) => void delete m[k]),
  fc.constantFrom(...HEADER_FIELDS).map((k): Mutation => (m) => void delete objectAt(m, "header")?.[k]),
  fc.tuple(fc.constantFrom<"top" | "header" | "tensors">("top", "header", "tensors"), protoEntry).map(
    ([where, [k, v]]): Mutation => (m) => void (objectAt(m, where) && Object.defineProperty(objectAt(m, where)!, k, { value: v, enumerable: true, writable: true, configurable: true })),
  ),
  fc.constantFrom("heartbeat", "inference_request", "list_models", "authentication", "legacy", "", "__proto__", "constructor", "toString", "x".repeat(300)).map(
    (t): Mutation => (m) => void (objectAt(m, "header") && (objectAt(m, "header")!.message_type = t)),
  ),
);

/** A valid message with 0–3 mutations, as JSON text (sent as text, sometimes as a binary frame). */
const mutatedMessage: fc.Arbitrary<FrameCase> = fc
  .tuple(validMessage, fc.array(mutation, { maxLength: 3 }), fc.integer({ min: 10, max: 20_000 }), fc.boolean())
  .map(([message, mutations, depth, binary]) => {
    const m = structuredClone(message);
    for (const mutate of mutations) mutate(m);
    const text = finish(JSON.stringify(m), depth);
    return { label: mutations.length === 0 ? "valid" : "mutated", data: binary ? Buffer.from(text) : text, binary };
  });

const someText = validMessage.map((m) => JSON.stringify(m));
const INVALID_UTF8 = [Buffer.from([0xff]), Buffer.from([0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe2, 0x82]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80])];

export function rawFrame(limits: FuzzLimits): fc.Arbitrary<FrameCase> {
  return fc.oneof(
    fc.tuple(someText, fc.nat()).map(([t, n]): FrameCase => ({ label: "truncated", data: t.slice(0, n % t.length), binary: false })),
    fc.uint8Array({ maxLength: 200 }).map((b): FrameCase => ({ label: "random bytes", data: Buffer.from(b), binary: true })),
    fc.tuple(someText, fc.constantFrom(...INVALID_UTF8), fc.nat(), fc.boolean()).map(([t, bad, n, binary]): FrameCase => {
      const bytes = Buffer.from(t);
      const at = n % (bytes.length + 1);
      const data = Buffer.concat([bytes.subarray(0, at), bad, bytes.subarray(at)]);
      return binary ? { label: "invalid utf-8 binary", data, binary } : { label: "invalid utf-8 text", data, binary, invalidUtf8: true };
    }),
    fc.constantFrom<FrameCase>(
      { label: "empty text", data: "", binary: false },
      { label: "empty binary", data: Buffer.alloc(0), binary: true },
      { label: "whitespace", data: " \n\t", binary: false },
      { label: "bom", data: "\ufeff{}", binary: false },
    ),
    fc.jsonValue({ maxDepth: 2 }).map((v): FrameCase => ({ label: "json value", data: JSON.stringify(v) ?? "null", binary: false })),
    fc.integer({ min: limits.maxMessageBytes + 1, max: limits.maxPayloadBytes }).map(
      (n): FrameCase => ({ label: "oversize message", data: JSON.stringify({ header: header("heartbeat"), worker_id: "Z".repeat(n) }), binary: false }),
    ),
    fc.integer({ min: limits.maxPayloadBytes + 1, max: limits.maxPayloadBytes * 2 }).map(
      (n): FrameCase => ({ label: "oversize frame", data: "Z".repeat(n), binary: false }),
    ),
  );
}

export function frameCase(limits: FuzzLimits): fc.Arbitrary<FrameCase> {
  return fc.oneof({ weight: 4, arbitrary: mutatedMessage }, { weight: 1, arbitrary: rawFrame(limits) });
}

export function byteSize(data: string | Buffer): number {
  return typeof data === "string" ? Buffer.byteLength(data) : data.length;
}
