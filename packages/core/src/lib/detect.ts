/**
 * Protocol detection, exactly as PROTOCOL.md "Detection": a frame is parsed as JSON; an object
 * with a `header` object is standard protocol; otherwise an object with `session_id` is legacy;
 * anything else is an error.
 */
import { errors, type ProtocolError } from "./errors.js";

export type Detection =
  | { kind: "standard"; message: Record<string, unknown>; header: Record<string, unknown> }
  | { kind: "legacy"; message: Record<string, unknown> }
  | { kind: "error"; error: ProtocolError; message?: Record<string, unknown> };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The frame as text. Text frames were already checked as UTF-8 by ws (it closes with 1007
 * otherwise); binary frames are accepted when they hold valid UTF-8.
 */
export function frameToText(data: unknown, isBinary: boolean): string | ProtocolError {
  if (typeof data === "string") return data;
  const buffers = Array.isArray(data) ? data : [data];
  try {
    if (!isBinary && buffers.length === 1 && Buffer.isBuffer(buffers[0])) return buffers[0].toString("utf8");
    const bytes = buffers.length === 1 ? toUint8(buffers[0]) : Buffer.concat(buffers.map(toUint8));
    return utf8.decode(bytes);
  } catch {
    return errors.invalidUtf8Frame();
  }
}

function toUint8(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError("unsupported frame data");
}

export function detect(text: string): Detection {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Also catches a RangeError from absurdly deep nesting.
    return { kind: "error", error: errors.invalidJson() };
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return { kind: "error", error: errors.notAnObject() };
  }
  const message = parsed as Record<string, unknown>;
  const header = message.header;
  if (header !== null && typeof header === "object" && !Array.isArray(header)) {
    return { kind: "standard", message, header: header as Record<string, unknown> };
  }
  if (Object.hasOwn(message, "session_id")) return { kind: "legacy", message };
  return { kind: "error", message, error: errors.unrecognizedMessage() };
}
