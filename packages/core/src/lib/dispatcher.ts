/**
 * The path of one frame: decode → detect → (header, version, type) → rate/in-flight limits →
 * guards → payload validation → handler → reply frames. Every failure becomes a coded error
 * frame in the message's own format; nothing here closes the connection except policy.
 */
import type { Logger } from "pino";
import type { Connection } from "./connection.js";
import type { HandlerContext, IncomingMessage, MessageHeader, Protocol } from "./context.js";
import { LEGACY_MESSAGE_TYPE } from "./decorators.js";
import { detect, frameToText } from "./detect.js";
import { legacyError, standardError, standardReply } from "./envelope.js";
import { ErrorCode, ProtocolError, toErrorBody } from "./errors.js";
import { correlationIdOf, parseHeader } from "./header.js";
import type { NodeLimits } from "./options.js";
import type { Guard } from "./plugin.js";
import type { HandlerRegistry, RegisteredHandler } from "./registry.js";
import { Reply } from "./reply.js";
import type { StatsCollector } from "./stats.js";
import { validationError } from "./validation.js";

/** How a failed message is answered: in its own format, correlated when possible. */
interface ReplyTarget {
  protocol: Protocol;
  correlationId: string | null;
  legacyMessage?: Record<string, unknown>;
}

const UNCORRELATED: ReplyTarget = { protocol: "standard", correlationId: null };

export class Dispatcher {
  constructor(
    private readonly registry: HandlerRegistry,
    private readonly guards: readonly Guard[],
    private readonly stats: StatsCollector,
    private readonly limits: NodeLimits,
    private readonly logger: Logger,
  ) {}

  /**
   * Processes one frame. Resolves false only when `fallbackUnhandled` is set and the message is
   * not standard protocol while no legacy handler is registered: the caller's own logic
   * handles it (gradual adoption). Never rejects.
   */
  async dispatch(conn: Connection, data: unknown, isBinary: boolean, fallbackUnhandled = false): Promise<boolean> {
    if (byteLength(data) > this.limits.maxMessageBytes) {
      this.fail(conn, UNCORRELATED, payloadTooLarge(this.limits.maxMessageBytes));
      return true;
    }
    const text = frameToText(data, isBinary);
    if (text instanceof ProtocolError) {
      if (fallbackUnhandled && !this.registry.get(LEGACY_MESSAGE_TYPE)) return false;
      this.stats.recordInvalid();
      this.fail(conn, UNCORRELATED, text);
      return true;
    }
    const detection = detect(text);

    if (detection.kind === "standard") {
      const target: ReplyTarget = { protocol: "standard", correlationId: correlationIdOf(detection.header) };
      const header = parseHeader(detection.header);
      if (header instanceof ProtocolError) {
        this.stats.recordRequest("standard", "invalid");
        this.fail(conn, target, header);
        return true;
      }
      const handler = this.registry.get(header.message_type);
      this.stats.recordRequest("standard", handler ? handler.type : "unknown");
      if (!handler) {
        this.fail(conn, target, unknownType(header.message_type, this.registry.types()));
        return true;
      }
      await this.run(conn, handler, target, detection.message, header);
      return true;
    }

    const legacyHandler = this.registry.get(LEGACY_MESSAGE_TYPE);
    if (fallbackUnhandled && !legacyHandler) return false;
    if (detection.kind === "error") {
      this.stats.recordInvalid();
      this.fail(conn, UNCORRELATED, detection.error);
      return true;
    }
    const target: ReplyTarget = { protocol: "legacy", correlationId: null, legacyMessage: detection.message };
    if (!legacyHandler) {
      this.stats.recordInvalid();
      this.fail(
        conn,
        target,
        new ProtocolError(ErrorCode.UNRECOGNIZED_MESSAGE, "This node does not serve the legacy message format."),
      );
      return true;
    }
    this.stats.recordRequest("legacy", LEGACY_MESSAGE_TYPE);
    await this.run(conn, legacyHandler, target, detection.message, undefined);
    return true;
  }

  private async run(
    conn: Connection,
    handler: RegisteredHandler,
    target: ReplyTarget,
    raw: Record<string, unknown>,
    header: MessageHeader | undefined,
  ): Promise<void> {
    if (conn.bucket && !conn.bucket.take()) {
      this.fail(conn, target, new ProtocolError(ErrorCode.RATE_LIMITED, "Too many messages; slow down."));
      return;
    }
    if (conn.inFlight >= this.limits.maxInFlightPerConnection) {
      this.fail(
        conn,
        target,
        new ProtocolError(
          ErrorCode.TOO_MANY_REQUESTS_IN_FLIGHT,
          `At most ${this.limits.maxInFlightPerConnection} requests may be in flight per connection.`,
        ),
      );
      return;
    }
    conn.inFlight++;
    this.stats.inFlight++;
    const ctx = contextFor(conn, target.protocol, header);
    try {
      if (this.guards.length > 0) {
        const incoming: IncomingMessage = { protocol: target.protocol, type: handler.type, header, raw };
        for (const guard of this.guards) {
          const pending = guard(incoming, ctx);
          if (pending) await pending;
        }
      }
      const parsed = handler.schema.safeParse(raw);
      if (!parsed.success) throw validationError(parsed.error);
      let result: unknown = handler.instance.handle(parsed.data, ctx);
      if (isPromise(result)) result = await result;
      if (result !== undefined && result !== null) {
        if (isAsyncIterable(result)) await this.stream(conn, handler, target, result);
        else this.send(conn, handler, target, result as object);
      }
    } catch (error) {
      this.fail(conn, target, error, handler.type);
    } finally {
      conn.inFlight--;
      this.stats.inFlight--;
      if (conn.pendingClose) conn.close(conn.pendingClose.code, conn.pendingClose.reason);
    }
  }

  private async stream(
    conn: Connection,
    handler: RegisteredHandler,
    target: ReplyTarget,
    replies: AsyncIterable<object>,
  ): Promise<void> {
    const { sendHighWaterMark, stuckPeerTimeoutMs } = this.limits;
    for await (const item of replies) {
      // Leaving the loop calls the iterator's return(): the producer stops and cleans up.
      if (!conn.isOpen) break;
      this.send(conn, handler, target, item);
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

  private send(conn: Connection, handler: RegisteredHandler, target: ReplyTarget, item: object): void {
    const isReply = item instanceof Reply;
    const payload = isReply ? item.payload : item;
    if (target.protocol === "legacy") {
      conn.send(JSON.stringify(payload));
    } else {
      conn.send(standardReply(isReply ? item.type : handler.replyType, target.correlationId, payload));
    }
  }

  private fail(conn: Connection, target: ReplyTarget, error: unknown, type?: string): void {
    const { body, internal } = toErrorBody(error);
    this.stats.recordError(body.code);
    if (internal) {
      conn.logger.error({ err: error, type }, "handler failed");
    } else {
      conn.logger.info({ code: body.code, type }, "request refused");
    }
    conn.send(
      target.protocol === "legacy"
        ? legacyError(target.legacyMessage, body)
        : standardError(target.correlationId, body),
    );
  }
}

function contextFor(conn: Connection, protocol: Protocol, header: MessageHeader | undefined): HandlerContext {
  return {
    connectionId: conn.id,
    remoteAddress: conn.remoteAddress,
    state: conn.state,
    logger: conn.logger,
    signal: conn.signal,
    protocol,
    header,
    requestClose(code: number, reason: string) {
      conn.pendingClose ??= { code, reason };
    },
  };
}

function payloadTooLarge(limit: number): ProtocolError {
  return new ProtocolError(ErrorCode.PAYLOAD_TOO_LARGE, `The message is larger than ${limit} bytes.`, {
    limit_bytes: limit,
  });
}

function unknownType(type: string, known: string[]): ProtocolError {
  const shown = type.length > 64 ? `${type.slice(0, 64)}…` : type;
  return new ProtocolError(ErrorCode.UNKNOWN_MESSAGE_TYPE, `Unknown message_type "${shown}".`, {
    supported: known.filter((t) => t !== LEGACY_MESSAGE_TYPE),
  });
}

function byteLength(data: unknown): number {
  if (typeof data === "string") return Buffer.byteLength(data);
  if (Array.isArray(data)) return data.reduce((n: number, b: { byteLength: number }) => n + b.byteLength, 0);
  return (data as { byteLength?: number }).byteLength ?? 0;
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as Promise<unknown> | null)?.then === "function";
}

function isAsyncIterable(value: unknown): value is AsyncIterable<object> {
  return typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function";
}
