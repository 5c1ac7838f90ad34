/**
 * The WebSocket door: one frame → decode → detect → (header, version, type) → the request
 * lifecycle (lifecycle.ts) → reply frames. It only translates: frames in, the message's own
 * format out (standard envelope or legacy JSON). Every failure becomes a coded error frame;
 * nothing here closes the connection except policy.
 */
import type { Logger } from "pino";
import type { Connection } from "./connection.js";
import type { MessageHeader, Protocol } from "./context.js";
import { detect, frameToText } from "./detect.js";
import { legacyError, standardError, standardReply } from "./envelope.js";
import { errors, ProtocolError, toErrorBody } from "./errors.js";
import { correlationIdOf, parseHeader } from "./header.js";
import type { ClientBudget, Exchange, RequestLifecycle } from "./lifecycle.js";
import type { NodeLimits } from "./options.js";
import type { HandlerRegistry, RegisteredHandler } from "./registry.js";
import { isReply } from "./reply.js";
import type { StatsCollector } from "./stats.js";

/** How a failed frame is answered: in its own format, correlated when possible. */
interface ReplyTarget {
  protocol: Protocol;
  correlationId: string | null;
  legacyMessage?: Record<string, unknown>;
}

const UNCORRELATED: ReplyTarget = { protocol: "standard", correlationId: null };

export class WsDoor {
  constructor(
    private readonly registry: HandlerRegistry,
    private readonly lifecycle: RequestLifecycle,
    readonly stats: StatsCollector,
    readonly limits: NodeLimits,
  ) {}

  /**
   * Processes one frame. Resolves false only when `fallbackUnhandled` is set and the message is
   * not standard protocol while no legacy handler is registered: the caller's own logic
   * handles it (gradual adoption). Never rejects.
   */
  dispatch(conn: Connection, data: unknown, isBinary: boolean, fallbackUnhandled = false): boolean | Promise<boolean> {
    if (byteLength(data) > this.limits.maxMessageBytes) {
      this.refuse(conn, UNCORRELATED, this.lifecycle.spend(conn.budget) ? errors.payloadTooLarge(this.limits.maxMessageBytes) : errors.rateLimited());
      return true;
    }
    const text = frameToText(data, isBinary);
    if (text instanceof ProtocolError) {
      if (fallbackUnhandled && !this.registry.legacy) return false;
      this.stats.recordInvalid();
      this.refuse(conn, UNCORRELATED, this.lifecycle.spend(conn.budget) ? text : errors.rateLimited());
      return true;
    }
    const detection = detect(text);

    if (detection.kind === "standard") {
      const allowed = this.lifecycle.spend(conn.budget);
      const target: ReplyTarget = { protocol: "standard", correlationId: correlationIdOf(detection.header) };
      const header = parseHeader(detection.header);
      if (header instanceof ProtocolError) {
        this.stats.recordUnroutable();
        this.refuse(conn, target, allowed ? header : errors.rateLimited());
        return true;
      }
      const handler = this.registry.get(header.message_type);
      if (!handler) {
        this.stats.recordUnroutable();
        this.refuse(conn, target, allowed ? errors.unknownMessageType(header.message_type, this.registry.types()) : errors.rateLimited());
        return true;
      }
      return settle(this.lifecycle.run(handler, new MessageExchange(this, conn, handler, target, detection.message, header), allowed));
    }

    const legacyHandler = this.registry.legacy;
    if (fallbackUnhandled && !legacyHandler) return false;
    const allowed = this.lifecycle.spend(conn.budget);
    if (detection.kind === "error") {
      this.stats.recordInvalid();
      this.refuse(conn, UNCORRELATED, allowed ? detection.error : errors.rateLimited());
      return true;
    }
    const target: ReplyTarget = { protocol: "legacy", correlationId: null, legacyMessage: detection.message };
    if (!legacyHandler) {
      this.stats.recordInvalid();
      this.refuse(conn, target, allowed ? errors.legacyNotServed() : errors.rateLimited());
      return true;
    }
    return settle(this.lifecycle.run(legacyHandler, new MessageExchange(this, conn, legacyHandler, target, detection.message, undefined), allowed));
  }

  /** A frame refused before any handler was chosen: an error frame, no request. */
  private refuse(conn: Connection, target: ReplyTarget, error: unknown): void {
    sendError(conn, target, error, undefined, this.stats);
  }
}

/**
 * One message on its way through the lifecycle: the Exchange the lifecycle drives and the
 * HandlerContext the guards and handler see, in one object (one allocation per message).
 */
class MessageExchange implements Exchange {
  readonly connectionId: string;
  readonly remoteAddress: string | undefined;
  readonly state: Map<string | symbol, unknown>;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly protocol: Protocol;
  outcome = "ok";
  startedAt: number | undefined;
  private closeRequest: { code: number; reason: string } | undefined;

  constructor(
    private readonly door: WsDoor,
    private readonly conn: Connection,
    private readonly handler: RegisteredHandler,
    private readonly target: ReplyTarget,
    readonly raw: Record<string, unknown>,
    readonly header: MessageHeader | undefined,
  ) {
    this.connectionId = conn.id;
    this.remoteAddress = conn.remoteAddress;
    this.state = conn.state;
    this.logger = conn.logger;
    this.signal = conn.signal;
    this.protocol = target.protocol;
    if (conn.logger.isLevelEnabled("debug")) conn.logger.debug({ type: handler.type, correlationId: target.correlationId }, "request");
  }

  get client(): ClientBudget {
    return this.conn.budget;
  }

  get context(): this {
    return this;
  }

  /** HandlerContext: close the connection with a policy code once this request's reply is out. */
  requestClose(code: number, reason: string): void {
    this.closeRequest ??= { code, reason };
  }

  deliver(result: unknown): void | Promise<void> {
    if (result === undefined || result === null) return;
    if (isAsyncIterable(result)) return this.stream(result);
    this.send(result as object);
  }

  fail(error: unknown): string {
    return sendError(this.conn, this.target, error, this.handler.type, this.door.stats);
  }

  ended(): void {
    // Only the request that asked for a policy close triggers it, right after its own reply.
    if (this.closeRequest) this.conn.close(this.closeRequest.code, this.closeRequest.reason);
  }

  private async stream(replies: AsyncIterable<object>): Promise<void> {
    const conn = this.conn;
    const { sendHighWaterMark, stuckPeerTimeoutMs } = this.door.limits;
    for await (const item of replies) {
      // Leaving the loop calls the iterator's return(): the producer stops and cleans up.
      if (!conn.isOpen) break;
      this.send(item);
      if (conn.ws.bufferedAmount > sendHighWaterMark) {
        const drained = await conn.drain(sendHighWaterMark / 2, stuckPeerTimeoutMs);
        if (!drained) {
          if (conn.isOpen) {
            conn.logger.warn({ bufferedAmount: conn.ws.bufferedAmount }, "peer stopped reading; disconnecting");
            conn.ws.terminate();
          }
          break;
        }
      }
    }
  }

  private send(item: object): void {
    const typed = isReply(item);
    const payload = typed ? item.payload : item;
    if (this.target.protocol === "legacy") {
      this.conn.send(JSON.stringify(payload));
    } else {
      this.conn.send(standardReply(typed ? item.type : this.handler.replyType, this.target.correlationId, payload));
    }
  }
}

/** Sends the error frame in the message's own format; returns its code. */
function sendError(conn: Connection, target: ReplyTarget, error: unknown, type: string | undefined, stats: StatsCollector): string {
  const { body, internal } = toErrorBody(error);
  stats.recordError(body.code);
  if (internal) {
    conn.logger.error({ err: error, type }, "handler failed");
  } else {
    conn.logger.info({ code: body.code, type }, "request refused");
  }
  conn.send(target.protocol === "legacy" ? legacyError(target.legacyMessage, body) : standardError(target.correlationId, body));
  return body.code;
}

function settle(pending: void | Promise<void>): boolean | Promise<boolean> {
  return pending ? pending.then(() => true) : true;
}

function byteLength(data: unknown): number {
  if (typeof data === "string") return Buffer.byteLength(data);
  if (Array.isArray(data)) return data.reduce((n: number, b: { byteLength: number }) => n + b.byteLength, 0);
  return (data as { byteLength?: number }).byteLength ?? 0;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<object> {
  return typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function";
}
