/**
 * One client connection as core sees it: the socket plus the state, logger, abort signal and
 * counters that handlers reach through their context. Only core code holds a Connection.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import WebSocket from "ws";
import type { ClientBudget } from "./lifecycle.js";

/** The part of the connection's TCP socket that write coalescing needs (net.Socket has it). */
export interface CorkableSocket {
  cork(): void;
  uncork(): void;
}

export class Connection {
  readonly id = randomUUID();
  readonly state = new Map<string | symbol, unknown>();
  readonly logger: Logger;
  private readonly abort = new AbortController();
  private corked = false;

  constructor(
    readonly ws: WebSocket,
    readonly remoteAddress: string | undefined,
    parentLogger: Logger,
    /** Its token bucket and in-flight count: a connection is one client to the request lifecycle. */
    readonly budget: ClientBudget,
    /**
     * The TCP socket under `ws`, when this node accepted it: replies sent in one turn of the event
     * loop (e.g. to the frames of one read) leave in one write, not one system call each.
     */
    private readonly socket?: CorkableSocket,
  ) {
    this.logger = parentLogger.child({ conn: this.id });
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(text: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (this.socket && !this.corked) {
      // Held until the current turn ends (process.nextTick): microseconds, never a timer.
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.ws.send(text);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket!.uncork();
  };

  /**
   * Backpressure: resolves true once the socket's buffer is below `lowWaterMark`, false if it
   * is still above it after `timeoutMs` (a peer that stopped reading) or the socket closed.
   */
  async drain(lowWaterMark: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.isOpen && this.ws.bufferedAmount > lowWaterMark) {
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return this.isOpen;
  }

  /** Called once when the socket has closed: cancels everything the connection started. */
  markClosed(reason: string): void {
    if (!this.abort.signal.aborted) this.abort.abort(new Error(reason));
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code, reason.slice(0, 120));
    }
  }
}
