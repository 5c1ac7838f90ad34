/**
 * The path of one frame: decode → detect → (header, version, type) → rate/in-flight limits →
 * guards → payload validation → handler → reply frames. Every failure becomes a coded error
 * frame in the message's own format; nothing here closes the connection except policy.
 */
import type { Logger } from "pino";
import type { Connection } from "./connection.js";
import type { HandlerContext, IncomingMessage, MessageHeader, Protocol } from "./context.js";
import { detect, frameToText } from "./detect.js";
import { legacyError, standardError, standardReply } from "./envelope.js";
import { errors, ProtocolError, toErrorBody } from "./errors.js";
import { correlationIdOf, parseHeader } from "./header.js";
import type { NodeLimits } from "./options.js";
import type { Guard, RequestEnd, RequestObserver } from "./plugin.js";
import type { HandlerRegistry, RegisteredHandler } from "./registry.js";
import { isReply } from "./reply.js";
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
    private readonly observers: readonly RequestObserver[] = [],
  ) {}

  /**
   * Processes one frame. Resolves false only when `fallbackUnhandled` is set and the message is
   * not standard protocol while no legacy handler is registered: the caller's own logic
   * handles it (gradual adoption). Never rejects.
   */
  dispatch(conn: Connection, data: unknown, isBinary: boolean, fallbackUnhandled = false): boolean | Promise<boolean> {
    if (byteLength(data) > this.limits.maxMessageBytes) {
      this.fail(conn, UNCORRELATED, this.spend(conn) ? errors.payloadTooLarge(this.limits.maxMessageBytes) : errors.rateLimited());
      return true;
    }
    const text = frameToText(data, isBinary);
    if (text instanceof ProtocolError) {
      if (fallbackUnhandled && !this.registry.legacy) return false;
      this.stats.recordInvalid();
      this.fail(conn, UNCORRELATED, this.spend(conn) ? text : errors.rateLimited());
      return true;
    }
    const detection = detect(text);

    if (detection.kind === "standard") {
      const allowed = this.spend(conn);
      const target: ReplyTarget = { protocol: "standard", correlationId: correlationIdOf(detection.header) };
      const header = parseHeader(detection.header);
      if (header instanceof ProtocolError) {
        this.stats.recordRequest("standard", "invalid");
        this.fail(conn, target, allowed ? header : errors.rateLimited());
        return true;
      }
      const handler = this.registry.get(header.message_type);
      this.stats.recordRequest("standard", handler ? handler.type : "unknown");
      if (!handler) {
        this.fail(conn, target, allowed ? errors.unknownMessageType(header.message_type, this.registry.types()) : errors.rateLimited());
        return true;
      }
      return settle(this.run(conn, handler, target, detection.message, header, allowed));
    }

    const legacyHandler = this.registry.legacy;
    if (fallbackUnhandled && !legacyHandler) return false;
    const allowed = this.spend(conn);
    if (detection.kind === "error") {
      this.stats.recordInvalid();
      this.fail(conn, UNCORRELATED, allowed ? detection.error : errors.rateLimited());
      return true;
    }
    const target: ReplyTarget = { protocol: "legacy", correlationId: null, legacyMessage: detection.message };
    if (!legacyHandler) {
      this.stats.recordInvalid();
      this.fail(
        conn,
        target,
        allowed
          ? errors.legacyNotServed()
          : errors.rateLimited(),
      );
      return true;
    }
    this.stats.recordRequest("legacy", legacyHandler.type);
    return settle(this.run(conn, legacyHandler, target, detection.message, undefined, allowed));
  }

  /**
   * Takes a token from the connection's bucket. Every frame this node answers spends one,
   * garbage included: a flood of invalid frames is a flood too.
   */
  private spend(conn: Connection): boolean {
    return conn.bucket === undefined || conn.bucket.take();
  }

  /** Sync as long as the guards and handler are: most messages never touch the microtask queue. */
  private run(
    conn: Connection,
    handler: RegisteredHandler,
    target: ReplyTarget,
    raw: Record<string, unknown>,
    header: MessageHeader | undefined,
    allowed: boolean,
  ): void | Promise<void> {
    if (!allowed) {
      this.fail(conn, target, errors.rateLimited());
      return;
    }
    if (conn.inFlight >= this.limits.maxInFlightPerConnection && !handler.control) {
      this.fail(
        conn,
        target,
        errors.tooManyInFlight(this.limits.maxInFlightPerConnection),
      );
      return;
    }
    conn.inFlight++;
    this.stats.inFlight++;
    if (conn.logger.isLevelEnabled("debug")) {
      conn.logger.debug({ type: handler.type, correlationId: target.correlationId }, "request");
    }
    const ctx = new RequestContext(conn, target.protocol, header, handler.type);
    if (this.observers.length > 0) ctx.startedAt = performance.now();
    let pending: void | Promise<void> = undefined;
    try {
      pending = this.guardThenHandle(conn, handler, target, raw, ctx);
    } catch (error) {
      ctx.outcome = this.fail(conn, target, error, handler.type);
    }
    if (!pending) return this.finish(conn, ctx);
    return pending.then(
      () => this.finish(conn, ctx),
      (error) => {
        ctx.outcome = this.fail(conn, target, error, handler.type);
        this.finish(conn, ctx);
      },
    );
  }

  private guardThenHandle(
    conn: Connection,
    handler: RegisteredHandler,
    target: ReplyTarget,
    raw: Record<string, unknown>,
    ctx: RequestContext,
  ): void | Promise<void> {
    const guards = this.guards;
    if (guards.length > 0) {
      const incoming: IncomingMessage = { protocol: target.protocol, type: handler.type, header: ctx.header, raw };
      for (let i = 0; i < guards.length; i++) {
        const pending = guards[i](incoming, ctx);
        if (pending) return this.guardAsync(pending, i + 1, incoming, conn, handler, target, raw, ctx);
      }
    }
    return this.handle(conn, handler, target, raw, ctx);
  }

  private async guardAsync(
    first: Promise<void>,
    next: number,
    incoming: IncomingMessage,
    conn: Connection,
    handler: RegisteredHandler,
    target: ReplyTarget,
    raw: Record<string, unknown>,
    ctx: RequestContext,
  ): Promise<void> {
    await first;
    for (let i = next; i < this.guards.length; i++) await this.guards[i](incoming, ctx);
    await this.handle(conn, handler, target, raw, ctx);
  }

  private handle(
    conn: Connection,
    handler: RegisteredHandler,
    target: ReplyTarget,
    raw: Record<string, unknown>,
    ctx: RequestContext,
  ): void | Promise<void> {
    const parsed = handler.schema.safeParse(raw);
    if (!parsed.success) throw validationError(parsed.error);
    const result: unknown = handler.instance.handle(parsed.data, ctx);
    if (isPromise(result)) return result.then((value) => this.deliver(conn, handler, target, value));
    return this.deliver(conn, handler, target, result);
  }

  private deliver(conn: Connection, handler: RegisteredHandler, target: ReplyTarget, result: unknown): void | Promise<void> {
    if (result === undefined || result === null) return;
    if (isAsyncIterable(result)) return this.stream(conn, handler, target, result);
    this.send(conn, handler, target, result as object);
  }

  private finish(conn: Connection, ctx: RequestContext): void {
    conn.inFlight--;
    this.stats.inFlight--;
    if (ctx.startedAt !== undefined) {
      notify(this.observers, { protocol: ctx.protocol, type: ctx.type, outcome: ctx.outcome, durationMs: performance.now() - ctx.startedAt }, conn.logger);
    }
    // Only the request that asked for a policy close triggers it, right after its own reply.
    if (ctx.closeRequest) conn.close(ctx.closeRequest.code, ctx.closeRequest.reason);
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
    const typed = isReply(item);
    const payload = typed ? item.payload : item;
    if (target.protocol === "legacy") {
      conn.send(JSON.stringify(payload));
    } else {
      conn.send(standardReply(typed ? item.type : handler.replyType, target.correlationId, payload));
    }
  }

  /** Sends the error frame; returns its code. */
  private fail(conn: Connection, target: ReplyTarget, error: unknown, type?: string): string {
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
    return body.code;
  }
}

/** The per-request HandlerContext: a class rather than a closure, to stay cheap on the hot path. */
class RequestContext implements HandlerContext {
  readonly connectionId: string;
  readonly remoteAddress: string | undefined;
  readonly state: Map<string | symbol, unknown>;
  readonly logger: Connection["logger"];
  readonly signal: AbortSignal;
  closeRequest: { code: number; reason: string } | undefined;
  /** Set only when someone observes request ends (the hot path stays free of clocks otherwise). */
  startedAt: number | undefined;
  outcome = "ok";

  constructor(
    conn: Connection,
    readonly protocol: Protocol,
    readonly header: MessageHeader | undefined,
    readonly type: string,
  ) {
    this.connectionId = conn.id;
    this.remoteAddress = conn.remoteAddress;
    this.state = conn.state;
    this.logger = conn.logger;
    this.signal = conn.signal;
  }

  requestClose(code: number, reason: string): void {
    this.closeRequest ??= { code, reason };
  }
}

/** Observers must not break dispatch: a throwing one is logged and skipped. */
export function notify(observers: readonly RequestObserver[], event: RequestEnd, logger: Logger): void {
  for (const observer of observers) {
    try {
      observer(event);
    } catch (err) {
      logger.error({ err }, "request observer failed");
    }
  }
}

function settle(pending: void | Promise<void>): boolean | Promise<boolean> {
  return pending ? pending.then(() => true) : true;
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
