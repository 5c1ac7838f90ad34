/** The standard-protocol header: its schema and the protocol-version rule. */
import { z } from "zod";
import { ErrorCode, ProtocolError } from "./errors.js";
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
  return version === "2" || version === PROTOCOL_VERSION || /^2\.\d{1,6}$/.test(version);
}

export function parseHeader(header: Record<string, unknown>): MessageHeader | ProtocolError {
  const result = headerSchema.safeParse(header);
  if (!result.success) return validationError(result.error, ["header"]);
  if (!isSupportedVersion(result.data.protocol_version)) {
    return new ProtocolError(
      ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
      `Protocol version "${result.data.protocol_version}" is not supported; this node speaks ${PROTOCOL_VERSION} (any 2.x).`,
      { supported: [PROTOCOL_VERSION] },
    );
  }
  return result.data as MessageHeader;
}
