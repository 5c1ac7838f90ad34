/**
 * The HTTP door: route lookup, origin policy (and CORS for allowed origins), then the request
 * lifecycle (lifecycle.ts: draining, the client address's token bucket and in-flight cap,
 * guards, validation, the route) and the response (JSON, text or server-sent events). It only
 * translates; every failure is a coded JSON error in the route's own shape.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage as HttpIncoming, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { HandlerContext, MessageHeader } from "./context.js";
import { errors, httpStatusOf, toErrorBody, type ErrorBody } from "./errors.js";
import type { HttpMethod, HttpRequest, HttpResponse, ResolvedRoute } from "./http-route.js";
import type { ClientBudget, Endpoint, Exchange, RequestLifecycle } from "./lifecycle.js";
import type { ResolvedNodeOptions } from "./options.js";
import { RouteTable } from "./route-table.js";
import type { StatsCollector } from "./stats.js";

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);
/** Client addresses tracked at most; past it, those with nothing in flight are forgotten (a flood of addresses costs a sweep, not memory). */
const MAX_CLIENTS = 10_000;

export class HttpDoor {
  private readonly routes: RouteTable;
  /** Each route as the lifecycle runs it. */
  private readonly endpoints = new Map<ResolvedRoute, Endpoint>();
  /** Budgets of HTTP clients (by remote address): the lifecycle's rate limit and in-flight cap. */
  private readonly clients = new Map<string, ClientBudget>();
  /** Requests being handled, so that shutdown can cancel them. */
  private readonly running = new Set<AbortController>();

  constructor(
    routes: readonly ResolvedRoute[],
    private readonly lifecycle: RequestLifecycle,
    readonly stats: StatsCollector,
    readonly options: ResolvedNodeOptions,
    readonly logger: Logger,
  ) {
    this.routes = new RouteTable(routes);
    for (const route of routes) {
      this.endpoints.set(route, {
        type: route.name,
        control: false,
        guarded: route.guarded,
        schema: route.schema,
        // The context is always this door's HttpExchange: it wraps the validated body into the request routes take.
        invoke: (body, ctx) => route.handle((ctx as HttpExchange).request(body), ctx),
      });
    }
  }

  /** Cancels every request in flight (their signals fire); used when the shutdown deadline passes. */
  abortAll(): void {
    for (const controller of this.running) controller.abort(new Error("node shutting down"));
  }

  /** Serves the request when a route matches its path; false when none does (the caller answers). */
  handle(req: HttpIncoming, res: ServerResponse): boolean {
    // Split by hand: `new URL()` throws on request targets a client may send ("http://[").
    const target = req.url ?? "/";
    const queryAt = target.indexOf("?");
    const path = queryAt < 0 ? target : target.slice(0, queryAt);
    const matched = this.routes.match(path);
    if (!matched) return false;
    const { routes, params } = matched;
    const origin = req.headers.origin;
    const { allowedOrigins } = this.options;
    if (origin !== undefined && allowedOrigins) {
      if (!allowedOrigins.includes(origin)) {
        // In the path's own error shape (its routes share one API).
        writeError(this, res, routes[0], errors.originNotAllowed());
        return true;
      }
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("vary", "Origin");
    }
    if (req.method === "OPTIONS") {
      // A preflight is answered with CORS permissions only for an origin that was allowed above;
      // to any other it says nothing, so the browser keeps the cross-site request from being sent.
      const allowed = origin !== undefined && res.hasHeader("access-control-allow-origin");
      res.writeHead(
        204,
        allowed
          ? {
              "access-control-allow-methods": routes.map((r) => r.method).join(", "),
              "access-control-allow-headers": "authorization, content-type, x-api-key",
              "access-control-max-age": "600",
            }
          : { allow: [...routes.map((r) => r.method), "OPTIONS"].join(", ") },
      );
      res.end();
      return true;
    }
    const route = routes.find((r) => r.method === req.method) ?? (req.method === "HEAD" ? routes.find((r) => r.method === "GET") : undefined);
    if (!route) {
      res.setHeader("allow", routes.map((r) => r.method).join(", "));
      writeError(this, res, routes[0], errors.methodNotAllowed(req.method ?? "", path, routes.map((r) => r.method)));
      return true;
    }
    const client = this.clientOf(req.socket.remoteAddress ?? "");
    const allowed = !route.guarded || this.lifecycle.spend(client);
    const exchange = new HttpExchange(this, req, res, route, client, path, queryAt < 0 ? "" : target.slice(queryAt + 1), params);
    this.running.add(exchange.controller);
    const pending = this.lifecycle.run(this.endpoints.get(route)!, exchange, allowed);
    const done = () => this.running.delete(exchange.controller);
    if (!pending) done();
    else {
      // The lifecycle answers every failure itself; this only catches what escapes it (a bug).
      pending.then(done, (err) => {
        done();
        this.logger.error({ err }, "HTTP request handling failed");
      });
    }
    return true;
  }

  /** The budget of a client address, made on its first request. */
  private clientOf(address: string): ClientBudget {
    let client = this.clients.get(address);
    if (!client) {
      if (this.clients.size >= MAX_CLIENTS) {
        for (const [key, known] of this.clients) if (known.inFlight === 0) this.clients.delete(key);
      }
      client = this.lifecycle.newClient(false);
      this.clients.set(address, client);
    }
    return client;
  }
}

/**
 * One HTTP request on its way through the lifecycle: the Exchange it drives and the
 * HandlerContext guards and the route see.
 */
class HttpExchange implements Exchange, HandlerContext {
  readonly protocol = "http" as const;
  readonly connectionId = `http-${randomUUID()}`;
  readonly remoteAddress: string | undefined;
  readonly state = new Map<string | symbol, unknown>();
  readonly logger: Logger;
  readonly header: MessageHeader | undefined = undefined;
  readonly http: { method: string; path: string; headers: HttpIncoming["headers"] };
  readonly controller = new AbortController();
  outcome = "ok";
  startedAt: number | undefined;

  constructor(
    private readonly door: HttpDoor,
    private readonly req: HttpIncoming,
    private readonly res: ServerResponse,
    private readonly route: ResolvedRoute,
    readonly client: ClientBudget,
    path: string,
    private readonly query: string,
    private readonly params: Record<string, string>,
  ) {
    this.remoteAddress = req.socket.remoteAddress;
    this.logger = door.logger.child({ req: this.connectionId });
    this.http = { method: route.method, path, headers: req.headers };
    // The client going away before the response is complete cancels the work.
    res.once("close", () => {
      if (!res.writableFinished) this.controller.abort(new Error("client disconnected"));
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get context(): this {
    return this;
  }

  /** An HTTP request has no connection of its own to close. */
  requestClose(): void {}

  readBody(): Promise<unknown> {
    return BODY_METHODS.has(this.route.method) ? readJson(this.req, this.route.maxBodyBytes ?? this.door.options.limits.maxMessageBytes) : Promise.resolve(undefined);
  }

  /** The route's `invoke` gets the validated body; it is wrapped here into the HttpRequest routes take. */
  request(body: unknown): HttpRequest {
    return { method: this.route.method as HttpMethod, path: this.http.path, params: this.params, query: new URLSearchParams(this.query), headers: this.req.headers, body };
  }

  deliver(response: unknown): Promise<void> {
    return writeResponse(this.door, this.res, this.route, response as HttpResponse, this.controller.signal);
  }

  fail(error: unknown): string {
    return writeError(this.door, this.res, this.route, error);
  }
}

async function writeResponse(door: HttpDoor, res: ServerResponse, route: ResolvedRoute, response: HttpResponse, signal: AbortSignal): Promise<void> {
  const headers = response.headers ?? {};
  if ("json" in response) {
    res.writeHead(response.status ?? 200, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(response.json));
    return;
  }
  if ("text" in response) {
    res.writeHead(response.status ?? 200, { "content-type": response.contentType ?? "text/plain; charset=utf-8", ...headers });
    res.end(response.text);
    return;
  }
  // The first event is pulled before the headers go out: a stream that fails at once (an
  // unknown model, a prompt too long) still gets its error status rather than a 200.
  const events = response.events[Symbol.asyncIterator]();
  const first = await events.next();
  const ndjson = response.framing === "ndjson";
  const frame = (event: string | object) =>
    ndjson ? `${typeof event === "string" ? event : JSON.stringify(event)}\n` : sseEvent(event, response.eventName);
  res.writeHead(response.status ?? 200, {
    "content-type": ndjson ? "application/x-ndjson" : "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
    ...headers,
  });
  res.flushHeaders();
  try {
    for (let item = first; !item.done; item = await events.next()) {
      if (signal.aborted || res.destroyed) break;
      const event = item.value;
      if (!res.write(frame(event))) await drained(res, signal);
    }
    if (!signal.aborted && !res.destroyed && response.end !== undefined) res.write(frame(response.end));
  } catch (error) {
    // Headers are gone: the error becomes the stream's last event.
    const { body, status } = describe(door, error, route);
    if (!res.destroyed) res.write(frame((route.formatError ? route.formatError(body, status) : { error: body }) as object));
  } finally {
    // Leaving early (the client left) closes the producer: its finally runs, its work stops.
    await events.return?.();
  }
  res.end();
}

/** One server-sent event: `data: <item>` (objects as JSON), after `event: <name>` when the route names it. */
function sseEvent(event: string | object, eventName: ((event: object) => string | undefined) | undefined): string {
  if (typeof event === "string") return `data: ${event}\n\n`;
  const name = eventName?.(event);
  return `${name === undefined ? "" : `event: ${name}\n`}data: ${JSON.stringify(event)}\n\n`;
}

/** Sends the error response in the route's shape; returns its code. */
function writeError(door: HttpDoor, res: ServerResponse, route: ResolvedRoute | undefined, error: unknown): string {
  const { body, status } = describe(door, error, route);
  door.stats.recordError(body.code);
  if (res.headersSent) {
    res.end();
    return body.code;
  }
  const payload = route?.formatError ? route.formatError(body, status) : { error: body };
  res.writeHead(status, { "content-type": "application/json", ...(body.code === "PAYLOAD_TOO_LARGE" ? { connection: "close" } : {}) });
  res.end(JSON.stringify(payload));
  return body.code;
}

function describe(door: HttpDoor, error: unknown, route: ResolvedRoute | undefined): { body: ErrorBody; status: number } {
  const { body, internal } = toErrorBody(error);
  if (internal) door.logger.error({ err: error, route: route?.name }, "HTTP route failed");
  else door.logger.info({ code: body.code, route: route?.name }, "HTTP request refused");
  return { body, status: httpStatusOf(body.code) };
}

/**
 * The body as JSON (undefined when empty). A body must be declared JSON (`application/json` or
 * `application/*+json`): browsers send text/plain and form bodies cross-site without a CORS
 * preflight, so accepting them would let any web page make a local node generate.
 * UNSUPPORTED_MEDIA_TYPE (415) otherwise; PAYLOAD_TOO_LARGE past `limit`; INVALID_JSON when not JSON.
 */
async function readJson(req: HttpIncoming, limit: number): Promise<unknown> {
  const hasBody = req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
  if (hasBody && !isJsonType(req.headers["content-type"])) throw errors.unsupportedMediaType(req.headers["content-type"]);
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) throw errors.payloadTooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw errors.payloadTooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw errors.invalidJsonBody();
  }
}

function isJsonType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(";", 1)[0].trim().toLowerCase();
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
}

function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
    signal.addEventListener("abort", done, { once: true });
  });
}
