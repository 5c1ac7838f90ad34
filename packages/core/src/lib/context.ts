/** What a handler gets besides its message: everything about the connection, nothing of the socket. */
import type { Logger } from "pino";

export type Protocol = "standard" | "legacy";

/** The standard-protocol header as validated by core. */
export interface MessageHeader {
  message_id: string;
  message_type: string;
  protocol_version: string;
  timestamp: string;
  license_hash?: string;
  correlation_id?: string | null;
  [extra: string]: unknown;
}

/** The message as core classified it, before payload validation; what guards look at. */
export interface IncomingMessage {
  protocol: Protocol;
  /** The registry key: the header's message_type, or LEGACY_MESSAGE_TYPE. */
  type: string;
  /** Standard protocol only. */
  header?: MessageHeader;
  /** The parsed JSON object, unvalidated. */
  raw: Record<string, unknown>;
}

export interface HandlerContext {
  /** Unique per connection, stable for its lifetime. */
  readonly connectionId: string;
  readonly remoteAddress: string | undefined;
  /** Connection-scoped state shared by guards and handlers (e.g. "authenticated"). */
  readonly state: Map<string | symbol, unknown>;
  /** A pino child logger bound to this connection. */
  readonly logger: Logger;
  /** Fires when the connection closes or the node stops waiting for in-flight work. */
  readonly signal: AbortSignal;
  readonly protocol: Protocol;
  readonly header?: MessageHeader;
  /**
   * Asks core to close the connection with a policy code (e.g. 1008) once the current reply
   * has been sent. Handlers never touch the socket themselves.
   */
  requestClose(code: number, reason: string): void;
}
