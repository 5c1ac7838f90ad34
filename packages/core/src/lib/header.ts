/** The standard-protocol header: its schema and the protocol-version rule. */
import { z } from "zod";
import { errors, type ProtocolError } from "./errors.js";
import type { MessageHeader } from "./context.js";
import { validationError } from "./validation.js";

export const PROTOCOL_VERSION = "2.0";

// Liberal ISO-8601: date, optional time with optional fraction, optional zone (Python's
// datetime.isoformat() has none), "T" or a space between date and time.
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;

export const headerSchema = z.looseObject({
  message_id: z.string().min(1).max(256),
  message_type: z.string().min(1).max(128),
  protocol_version: z.string().min(1).max(32),
  timestamp: z.string().max(64).regex(ISO_8601, "must be an ISO-8601 date-time"),
  license_hash: z.string().max(512).optional(),
  correlation_id: z.string().max(256).nullable().optional(),
});

/** The request's message_id when it is a usable string, for correlating an error reply. */
export function correlationIdOf(header: Record<string, unknown> | undefined): string | null {
  const id = header?.message_id;
  return typeof id === "string" && id.length > 0 && id.length <= 256 ? id : null;
}

/** Any 2.x is served; another major is refused. */
export function isSupportedVersion(version: string): boolean {
  return version === PROTOCOL_VERSION || version === "2" || /^2\.\d{1,6}$/.test(version);
}

/**
 * The same rules as `headerSchema`, checked by hand: a well-formed header (nearly every one)
 * skips zod, which then runs only to describe what is wrong. A unit test holds the two to
 * the same verdicts.
 */
export function isWellFormedHeader(h: Record<string, unknown>): boolean {
  const { message_id: id, message_type: type, protocol_version: version, timestamp: ts } = h;
  const lh = h.license_hash;
  const corr = h.correlation_id;
  return (
    typeof id === "string" && id.length >= 1 && id.length <= 256 &&
    typeof type === "string" && type.length >= 1 && type.length <= 128 &&
    typeof version === "string" && version.length >= 1 && version.length <= 32 &&
    typeof ts === "string" && ts.length <= 64 && ISO_8601.test(ts) &&
    (lh === undefined || (typeof lh === "string" && lh.length <= 512)) &&
    (corr === undefined || corr === null || (typeof corr === "string" && corr.length <= 256))
  );
}

export function parseHeader(header: Record<string, unknown>): MessageHeader | ProtocolError {
  if (isWellFormedHeader(header)) {
    const version = header.protocol_version as string;
    return isSupportedVersion(version) ? (header as MessageHeader) : unsupportedVersion(version);
  }
  const result = headerSchema.safeParse(header);
  if (!result.success) return validationError(result.error, ["header"]);
  // Only reached when the hand check and zod disagree, which the unit test rules out.
  return isSupportedVersion(result.data.protocol_version)
    ? (result.data as MessageHeader)
    : unsupportedVersion(result.data.protocol_version);
}

function unsupportedVersion(version: string): ProtocolError {
  return errors.unsupportedProtocolVersion(version, PROTOCOL_VERSION);
}
