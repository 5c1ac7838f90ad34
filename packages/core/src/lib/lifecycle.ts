/**
 * One request's walk, whichever door it came in by: admission (draining, the client's token
 * bucket and in-flight cap), guards, validation, the endpoint, observers, failing. The WebSocket
 * door (ws-door.ts) and the HTTP door (http-door.ts) only translate: they find the endpoint,
 * describe the request as an Exchange, and write what comes back in their own format.
 *
 * The walk stays synchronous while the guards and the endpoint are: a heartbeat never touches
 * the microtask queue (what keeps the full stack near a bare ws server in bench:dispatch).
 */
import type { Logger } from "pino";
import type { ZodType } from "zod";
import type { HandlerContext, IncomingMessage, MessageHeader, Protocol } from "./context.js";
import { errors } from "./errors.js";
import type { NodeLimits } from "./options.js";
import type { Guard, RequestEnd, RequestObserver, RequestScope } from "./plugin.js";
import { TokenBucket } from "./rate-limit.js";
import type { StatsCollector } from "./stats.js";
import { validationError } from "./validation.js";

/**
 * Whom a request counts against. A WebSocket connection is one client; over HTTP, a client is
 * its remote address (every request and keep-alive connection from it shares one budget).
 */
export interface ClientBudget {
  /** Requests admitted and not yet ended. */
  inFlight: number;
  /** Absent when rate limiting is off (messagesPerSecond 0). */
  readonly bucket: TokenBucket | undefined;
  /**
   * True for a WebSocket connection: it stays served while the node drains (its client can
   * still cancel, ask heartbeats, finish a session); only new connections are refused. An HTTP
   * request is a new arrival, refused with SHUTTING_DOWN once the drain has begun.
   */
  readonly connected: boolean;
  /** Named in the in-flight error ("connection" or "client address"). */
  readonly scope: "connection" | "client address";
}

/** What a door calls: a message handler or an HTTP route, as the lifecycle runs it. */
export interface Endpoint {
  /** The message_type, "legacy", or the route's name: for guards, stats, observers. */
  readonly type: string;
  /** Answered even at the client's in-flight cap (e.g. a cancel). */
  readonly control: boolean;
  /**
   * False for operator endpoints (probes, metrics): no admission, no guards, not counted, not
   * observed. Messages are always guarded.
   */
  readonly guarded: boolean;
  readonly schema: ZodType | undefined;
  invoke(value: unknown, ctx: HandlerContext): unknown;
}

/** One request as a door hands it over. */
export interface Exchange {
  readonly protocol: Protocol;
  readonly client: ClientBudget;
  /** What guards and the endpoint get. */
  readonly context: HandlerContext;
  readonly header?: MessageHeader;
  readonly http?: IncomingMessage["http"];
  /** The message, unvalidated; for HTTP, read by `readBody` instead. */
  readonly raw?: Record<string, unknown>;
  /** HTTP: reads the JSON body (undefined when empty) after admission, before the guards. */
  readBody?(): Promise<unknown>;
  /** Writes the endpoint's result (a payload, a stream, nothing). */
  deliver(result: unknown): void | Promise<void>;
  /** Writes the error in the door's format and returns its code. */
  fail(error: unknown): string;
  /** After the last reply or error (the WebSocket door closes a connection a handler asked it to). */
  ended?(): void;
  /** Set by the lifecycle: "ok" or the error code sent; the start time when observed. */
  outcome: string;
  startedAt: number | undefined;
}

export class RequestLifecycle {
  /** Set when the node starts draining (see ClientBudget.connected). */
  draining = false;
  /** The plugins' request scopes nested into one; undefined (one check per request) when none. */
  private readonly scope: RequestScope | undefined;

  constructor(
    private readonly guards: readonly Guard[],
    private readonly observers: readonly RequestObserver[],
    scopes: readonly RequestScope[],
    private readonly stats: StatsCollector,
    private readonly limits: NodeLimits,
    private readonly logger: Logger,
  ) {
    this.scope = scopes.reduceRight<RequestScope | undefined>(
      (inner, outer) => (inner ? (start, walk) => outer(start, () => inner(start, walk)) : outer),
      undefined,
    );
  }

  /** A fresh budget for a connection or an HTTP client. */
  newClient(connected: boolean): ClientBudget {
    const { messagesPerSecond, messageBurst } = this.limits;
    return {
      inFlight: 0,
      bucket: messagesPerSecond > 0 ? new TokenBucket(messagesPerSecond, messageBurst) : undefined,
      connected,
      scope: connected ? "connection" : "client address",
    };
  }

  /**
   * Takes a token from the client's bucket. Every frame or request the node answers spends
   * one, garbage included: a flood of invalid frames is a flood too.
   */
  spend(client: ClientBudget): boolean {
    return client.bucket === undefined || client.bucket.take();
  }

  /**
   * Runs one request to its end. `allowed`: whether the door's `spend` found a token (the
   * WebSocket door spends before it can tell a message from garbage). Never throws: every
   * failure goes to `exchange.fail`.
   */
  run(endpoint: Endpoint, exchange: Exchange, allowed: boolean): void | Promise<void> {
    if (endpoint.guarded) {
      this.stats.recordRequest(exchange.protocol, endpoint.type);
      const refusal = this.admit(endpoint, exchange.client, allowed);
      if (refusal) {
        exchange.outcome = exchange.fail(refusal);
        exchange.ended?.();
        return;
      }
      exchange.client.inFlight++;
      this.stats.inFlight++;
      if (this.observers.length > 0) exchange.startedAt = performance.now();
      if (this.scope !== undefined) {
        const start = { protocol: exchange.protocol, type: endpoint.type, header: exchange.header, http: exchange.http, context: exchange.context };
        return this.scope(start, () => this.walk(endpoint, exchange));
      }
    }
    return this.walk(endpoint, exchange);
  }

  /** From the body and the guards to the end (observers included). Never throws. */
  private walk(endpoint: Endpoint, exchange: Exchange): void | Promise<void> {
    let pending: void | Promise<void> = undefined;
    try {
      pending = exchange.readBody ? this.readThenHandle(endpoint, exchange) : this.guardThenHandle(endpoint, exchange, exchange.raw ?? {}, exchange.raw);
    } catch (error) {
      exchange.outcome = exchange.fail(error);
    }
    if (!pending) return this.finish(endpoint, exchange);
    return pending.then(
      () => this.finish(endpoint, exchange),
      (error) => {
        exchange.outcome = exchange.fail(error);
        this.finish(endpoint, exchange);
      },
    );
  }

  /** Draining, then the token bucket, then the in-flight cap (control messages pass the cap). */
  private admit(endpoint: Endpoint, client: ClientBudget, allowed: boolean): Error | undefined {
    if (this.draining && !client.connected) return errors.shuttingDown();
    if (!allowed) return errors.rateLimited();
    const cap = this.limits.maxInFlightPerConnection;
    if (client.inFlight >= cap && !endpoint.control) return errors.tooManyInFlight(cap, client.scope);
    return undefined;
  }

  private async readThenHandle(endpoint: Endpoint, exchange: Exchange): Promise<void> {
    const body = await exchange.readBody!();
    const raw = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    await this.guardThenHandle(endpoint, exchange, raw, body);
  }

  private guardThenHandle(endpoint: Endpoint, exchange: Exchange, raw: Record<string, unknown>, input: unknown): void | Promise<void> {
    const guards = this.guards;
    if (endpoint.guarded && guards.length > 0) {
      const incoming: IncomingMessage = { protocol: exchange.protocol, type: endpoint.type, header: exchange.header, raw, http: exchange.http };
      for (let i = 0; i < guards.length; i++) {
        const pending = guards[i](incoming, exchange.context);
        if (pending) return this.guardAsync(pending, i + 1, incoming, endpoint, exchange, input);
      }
    }
    return this.handle(endpoint, exchange, input);
  }

  private async guardAsync(
    first: Promise<void>,
    next: number,
    incoming: IncomingMessage,
    endpoint: Endpoint,
    exchange: Exchange,
    input: unknown,
  ): Promise<void> {
    await first;
    for (let i = next; i < this.guards.length; i++) await this.guards[i](incoming, exchange.context);
    await this.handle(endpoint, exchange, input);
  }

  private handle(endpoint: Endpoint, exchange: Exchange, input: unknown): void | Promise<void> {
    let value = input;
    if (endpoint.schema) {
      const parsed = endpoint.schema.safeParse(input ?? {});
      if (!parsed.success) throw validationError(parsed.error);
      value = parsed.data;
    }
    const result: unknown = endpoint.invoke(value, exchange.context);
    if (isPromise(result)) return result.then((resolved) => exchange.deliver(resolved));
    return exchange.deliver(result);
  }

  private finish(endpoint: Endpoint, exchange: Exchange): void {
    if (endpoint.guarded) {
      exchange.client.inFlight--;
      this.stats.inFlight--;
      if (exchange.startedAt !== undefined) {
        notify(
          this.observers,
          { protocol: exchange.protocol, type: endpoint.type, outcome: exchange.outcome, durationMs: performance.now() - exchange.startedAt },
          exchange.context.logger ?? this.logger,
        );
      }
    }
    exchange.ended?.();
  }
}

/** Observers must not break a request: a throwing one is logged and skipped. */
function notify(observers: readonly RequestObserver[], event: RequestEnd, logger: Logger): void {
  for (const observer of observers) {
    try {
      observer(event);
    } catch (err) {
      logger.error({ err }, "request observer failed");
    }
  }
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as Promise<unknown> | null)?.then === "function";
}
