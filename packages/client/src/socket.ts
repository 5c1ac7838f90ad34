/**
 * ClientSocket: the one place that touches the injected WebSocket (the browser's, or the `ws`
 * package's: both fit WebSocketLike). It opens one, wires its events, sends, drops it, or closes
 * it with a handshake, and turns its close event into the ConnectionLostError that the requests
 * on it fail with. Which socket is current is the connection's business, not this file's.
 */
import { ConnectionLostError, type ConnectionLostDetails } from "./errors.js";
import type { WebSocketConstructor, WebSocketLike } from "./types.js";

const WS_OPEN = 1;
const WS_CLOSED = 3;
/** How long closeGracefully() waits for the closing handshake before it drops the socket. */
const CLOSE_GRACE_MS = 2_000;

const noop = () => {};

/** The message of an error, or of an error event (`ws` gives one; a browser's Event has none): "" when there is none. */
export function describe(error: unknown): string {
  if (error && typeof error === "object") {
    const e = error as { message?: unknown; error?: { message?: unknown } };
    if (typeof e.message === "string" && e.message) return e.message;
    if (e.error && typeof e.error.message === "string") return e.error.message;
  }
  return "";
}

/** A frame's text: a text frame as it is, a binary one decoded as UTF-8; undefined for anything else. */
export function frameText(data: unknown): string | undefined {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return new TextDecoder().decode(data as ArrayBuffer);
  return undefined;
}

/** What a ClientSocket reports to its owner; each call names the socket, so a stale one can be ignored. */
export interface SocketListener {
  /** The open event came. */
  opened(socket: ClientSocket): void;
  message(socket: ClientSocket, data: unknown): void;
  /** The close event came: before the open event (the attempt failed) or after it (the connection dropped). */
  lost(socket: ClientSocket, error: ConnectionLostError): void;
}

export class ClientSocket {
  readonly #socket: WebSocketLike;
  readonly #url: string;
  /** Whether the open event came: a close before it means the attempt failed. */
  #opened = false;
  /** The message of the last error event, for the error of an attempt that failed. */
  #lastError = "";

  /** Throws what the WebSocket constructor throws (a malformed URL, say). */
  constructor(WebSocketClass: WebSocketConstructor, url: string, listener: SocketListener) {
    this.#url = url;
    const socket = new WebSocketClass(url);
    this.#socket = socket;
    try {
      socket.binaryType = "arraybuffer";
    } catch {
      // not settable: binary frames are not expected anyway
    }
    socket.onopen = () => {
      this.#opened = true;
      listener.opened(this);
    };
    socket.onmessage = (event: { data: unknown }) => listener.message(this, event.data);
    socket.onerror = (event: unknown) => {
      this.#lastError = describe(event) || this.#lastError;
    };
    socket.onclose = (event: { code?: number; reason?: string }) => listener.lost(this, this.#closeError(event));
  }

  /** Whether the open event has come. */
  get opened(): boolean {
    return this.#opened;
  }

  /** Sends a text frame. A socket that is closing throws: its close event fails every request on it, so that is ignored here. */
  send(text: string): void {
    try {
      this.#socket.send(text);
    } catch {
      // closing: see above
    }
  }

  /** Detaches the owner and drops the socket without waiting for a closing handshake. */
  abandon(): void {
    const socket = this.#socket;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    // `ws` throws an 'error' event nobody listens to; a late one must find this.
    socket.onerror = noop;
    try {
      if (typeof socket.terminate === "function") socket.terminate();
      else if (socket.readyState !== WS_CLOSED) socket.close(4000, "dropped by the client");
    } catch {
      // already closed
    }
  }

  /** Detaches the owner, closes with 1000 and waits for the close event (at most CLOSE_GRACE_MS, then drops the socket). */
  closeGracefully(): Promise<void> {
    const socket = this.#socket;
    return new Promise<void>((resolve) => {
      socket.onopen = null;
      socket.onmessage = null;
      socket.onerror = noop;
      if (socket.readyState === WS_CLOSED) {
        socket.onclose = null;
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        socket.onclose = null;
        try {
          socket.terminate?.();
        } catch {
          // gone
        }
        resolve();
      }, CLOSE_GRACE_MS);
      socket.onclose = () => {
        clearTimeout(timer);
        socket.onclose = null;
        resolve();
      };
      try {
        socket.close(1000, socket.readyState === WS_OPEN ? "client closed" : undefined);
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  #closeError(event: { code?: number; reason?: string }): ConnectionLostError {
    const code = typeof event?.code === "number" ? event.code : undefined;
    if (!this.#opened) {
      const why = this.#lastError ? `: ${this.#lastError}` : "";
      return new ConnectionLostError(`Could not connect to ${this.#url}${why}.`, { reason: "dropped", close_code: code });
    }
    const reason: ConnectionLostDetails["reason"] = code === 1008 ? "policy" : "dropped";
    const said = event?.reason ? ` (${event.reason})` : "";
    return new ConnectionLostError(`The connection to ${this.#url} closed with code ${code ?? "none"}${said}.`, { reason, close_code: code });
  }
}
