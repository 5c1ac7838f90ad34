/** What a handler gets besides its message: everything about the connection, nothing of the socket. */
import type { Logger } from "pino";

/** How a message arrived: a v2.0 message, a legacy step, or an HTTP request to a plugin's route. */
export type Protocol = "standard" | "legacy" | "http";

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
  /** The header's message_type, "legacy" for the legacy format, or an HTTP route's name. */
  type: string;
  /** Standard protocol only. */
  header?: MessageHeader;
  /** The parsed JSON object, unvalidated (for HTTP: the JSON body, or {} without one). */
  raw: Record<string, unknown>;
  /** HTTP routes only: the request line and headers (e.g. for `Authorization: Bearer …`). */
  http?: { method: string; path: string; headers: Readonly<Record<string, string | string[] | undefined>> };
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
