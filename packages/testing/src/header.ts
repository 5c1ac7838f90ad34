/** A valid standard-protocol v2.0 request header, for building test messages. */
export interface TestHeader {
  message_id: string;
  message_type: string;
  protocol_version: string;
  timestamp: string;
  [extra: string]: unknown;
}

export function header(type: string, id = `m-${Math.random().toString(36).slice(2)}`, extra: Record<string, unknown> = {}): TestHeader {
  return { message_id: id, message_type: type, protocol_version: "2.0", timestamp: "2024-01-01T12:00:00Z", ...extra };
}
