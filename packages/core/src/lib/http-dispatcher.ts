/**
 * Plain HTTP on the node's port: route lookup, origin policy (and CORS for allowed origins),
 * draining, a token bucket per address, body limits, guards, validation, the route's handler,
 * and the response (JSON, text or server-sent events). Every failure is a coded JSON error.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage as HttpIncoming, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { HandlerContext, IncomingMessage } from "./context.js";
import { errors, httpStatusOf, ProtocolError, toErrorBody, type ErrorBody } from "./errors.js";
import type { HttpMethod, HttpRequest, HttpResponse, ResolvedRoute } from "./http-route.js";
import type { ResolvedNodeOptions } from "./options.js";
import { notify } from "./dispatcher.js";
import type { Guard, RequestObserver } from "./plugin.js";
import { TokenBucket } from "./rate-limit.js";
import type { StatsCollector } from "./stats.js";
import { validationError } from "./validation.js";

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);
/** Per-address buckets kept at most; beyond it the table is cleared (a flood of addresses costs a reset, not memory). */
const MAX_BUCKETS = 10_000;

export class HttpDispatcher {
  private readonly byPath = new Map<string, ResolvedRoute[]>();
  /** Paths with `:param` segments, tried in order when no exact path matches. */
  private readonly patterns: { pattern: string; segments: string[]; routes: ResolvedRoute[] }[] = [];
  private readonly buckets = new Map<string, TokenBucket>();
  /** Requests being handled, so that shutdown can cancel them. */
  private readonly running = new Set<AbortController>();
  draining = false;

  constructor(
    routes: readonly ResolvedRoute[],
    private readonly guards: readonly Guard[],
    private readonly stats: StatsCollector,
    private readonly options: ResolvedNodeOptions,
    private readonly logger: Logger,
    private readonly observers: readonly RequestObserver[] = [],
  ) {
    for (const route of routes) {
      let list = this.byPath.get(route.path);
      if (!list) {
        list = [];
        this.byPath.set(route.path, list);
        if (route.path.includes("/:")) this.patterns.push({ pattern: route.path, segments: route.path.split("/"), routes: list });
      }
      if (list.some((r) => r.method === route.method)) {
        throw new Error(`two HTTP routes for ${route.method} ${route.path}: plugin "${list.find((r) => r.method === route.method)!.plugin}" and plugin "${route.plugin}"`);
      }
      list.push(route);
    }
  }

  /** Cancels every request in flight (their signals fire); used when the shutdown deadline passes. */
  abortAll(): void {
    for (const controller of this.running) controller.abort(new Error("node shutting down"));
  }

  /** The routes of a path (exact first, then `:param` patterns) and the parameters it binds. */
  private match(path: string): { routes: ResolvedRoute[]; params: Record<string, string> } | undefined {
    const exact = this.byPath.get(path);
    if (exact && !exact[0]?.path.includes("/:")) return { routes: exact, params: {} };
    const parts = path.split("/");
    for (const { segments, routes } of this.patterns) {
      if (segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segments.length && ok; i++) {
        if (segments[i].startsWith(":") && parts[i] !== "") {
          try {
            params[segments[i].slice(1)] = decodeURIComponent(parts[i]);
          } catch {
            ok = false;
          }
        } else ok = segments[i] === parts[i];
      }
      if (ok) return { routes, params };
    }
    return undefined;
  }

  /** Serves the request when a route matches its path; false when none does (the caller answers). */
  handle(req: HttpIncoming, res: ServerResponse): boolean {
    // Split by hand: `new URL()` throws on request targets a client may send ("http://[").
    const target = req.url ?? "/";
    const queryAt = target.indexOf("?");
    const url = { pathname: queryAt < 0 ? target : target.slice(0, queryAt), searchParams: new URLSearchParams(queryAt < 0 ? "" : target.slice(queryAt + 1)) };
    const matched = this.match(url.pathname);
    if (!matched) return false;
    const { routes, params } = matched;
    const origin = req.headers.origin;
    const { allowedOrigins } = this.options;
    if (origin !== undefined && allowedOrigins) {
      if (!allowedOrigins.includes(origin)) {
        // In the path's own error shape (its routes share one API).
        this.fail(res, routes[0], errors.originNotAllowed());
        return true;
      }
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("vary", "Origin");
    }
    if (req.method === "OPTIONS") {
      res.writeHead(204, {
        "access-control-allow-methods": routes.map((r) => r.method).join(", "),
        "access-control-allow-headers": "authorization, content-type",
        "access-control-max-age": "600",
      });
      res.end();
      return true;
    }
    const route = routes.find((r) => r.method === req.method) ?? (req.method === "HEAD" ? routes.find((r) => r.method === "GET") : undefined);
    if (!route) {
      res.setHeader("allow", routes.map((r) => r.method).join(", "));
      this.fail(res, routes[0], errors.methodNotAllowed(req.method ?? "", url.pathname, routes.map((r) => r.method)));
      return true;
    }
    if (route.guarded) {
      if (this.draining) {
        this.fail(res, route, errors.shuttingDown());
        return true;
      }
      if (!this.spend(req.socket.remoteAddress ?? "")) {
        this.fail(res, route, errors.rateLimited());
        return true;
      }
    }
    void this.run(req, res, route, url, params);
    return true;
  }

  private async run(
    req: HttpIncoming,
    res: ServerResponse,
    route: ResolvedRoute,
    url: { pathname: string; searchParams: URLSearchParams },
    params: Record<string, string>,
  ): Promise<void> {
    const controller = new AbortController();
    // The client going away before the response is complete cancels the work.
    res.once("close", () => {
      if (!res.writableFinished) controller.abort(new Error("client disconnected"));
    });
    const ctx = new HttpContext(req, controller.signal, this.logger);
    if (route.guarded) {
      this.stats.recordRequest("http", route.name);
      this.stats.inFlight++;
    }
    this.running.add(controller);
    const startedAt = performance.now();
    let outcome = "ok";
    try {
      const body = BODY_METHODS.has(route.method) ? await readJson(req, route.maxBodyBytes ?? this.options.limits.maxMessageBytes) : undefined;
      if (route.guarded && this.guards.length > 0) {
        const raw = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
        const incoming: IncomingMessage = {
          protocol: "http",
          type: route.name,
          raw,
          http: { method: route.method, path: url.pathname, headers: req.headers },
        };
        for (const guard of this.guards) await guard(incoming, ctx);
      }
      let value: unknown = body;
      if (route.schema) {
        const parsed = route.schema.safeParse(body ?? {});
        if (!parsed.success) throw validationError(parsed.error);
        value = parsed.data;
      }
      const request: HttpRequest = { method: route.method as HttpMethod, path: url.pathname, params, query: url.searchParams, headers: req.headers, body: value };
      const response = await route.handle(request, ctx);
      await this.write(res, route, response, controller.signal);
    } catch (error) {
      outcome = this.fail(res, route, error);
    } finally {
      this.running.delete(controller);
      if (route.guarded) {
        this.stats.inFlight--;
        if (this.observers.length > 0) {
          notify(this.observers, { protocol: "http", type: route.name, outcome, durationMs: performance.now() - startedAt }, ctx.logger);
        }
      }
    }
  }

  private async write(res: ServerResponse, route: ResolvedRoute, response: HttpResponse, signal: AbortSignal): Promise<void> {
    const headers = response.headers ?? {};
    if ("json" in response) {
      res.writeHead(response.status ?? 200, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(response.json));
    } else if ("text" in response) {
      res.writeHead(response.status ?? 200, { "content-type": response.contentType ?? "text/plain; charset=utf-8", ...headers });
      res.end(response.text);
    } else {
      // The first event is pulled before the headers go out: a stream that fails at once (an
      // unknown model, a prompt too long) still gets its error status rather than a 200.
      const events = response.events[Symbol.asyncIterator]();
      const first = await events.next();
      res.writeHead(response.status ?? 200, {
        "content-type": "text/event-stream; charset=utf-8",
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
          if (!res.write(`data: ${typeof event === "string" ? event : JSON.stringify(event)}\n\n`)) await drained(res, signal);
        }
        if (!signal.aborted && !res.destroyed && response.end !== undefined) res.write(`data: ${response.end}\n\n`);
      } catch (error) {
        // Headers are gone: the error becomes the stream's last event.
        const { body, status } = this.describe(error, route);
        if (!res.destroyed) res.write(`data: ${JSON.stringify(route.formatError ? route.formatError(body, status) : { error: body })}\n\n`);
      } finally {
        // Leaving early (the client left) closes the producer: its finally runs, its work stops.
        await events.return?.();
      }
      res.end();
    }
  }

  /** Sends the error response; returns its code. */
  private fail(res: ServerResponse, route: ResolvedRoute | undefined, error: unknown): string {
    const { body, status } = this.describe(error, route);
    this.stats.recordError(body.code);
    if (res.headersSent) {
      res.end();
      return body.code;
    }
    const payload = route?.formatError ? route.formatError(body, status) : { error: body };
    res.writeHead(status, { "content-type": "application/json", ...(body.code === "PAYLOAD_TOO_LARGE" ? { connection: "close" } : {}) });
    res.end(JSON.stringify(payload));
    return body.code;
  }

  private describe(error: unknown, route: ResolvedRoute | undefined): { body: ErrorBody; status: number } {
    const { body, internal } = toErrorBody(error);
    if (internal) this.logger.error({ err: error, route: route?.name }, "HTTP route failed");
    else this.logger.info({ code: body.code, route: route?.name }, "HTTP request refused");
    return { body, status: httpStatusOf(body.code) };
  }

  private spend(address: string): boolean {
    const { messagesPerSecond, messageBurst } = this.options.limits;
    if (messagesPerSecond <= 0) return true;
    let bucket = this.buckets.get(address);
    if (!bucket) {
      if (this.buckets.size >= MAX_BUCKETS) this.buckets.clear();
      bucket = new TokenBucket(messagesPerSecond, messageBurst);
      this.buckets.set(address, bucket);
    }
    return bucket.take();
  }
}

/** The context an HTTP route (and the guards) get: one per request. */
class HttpContext implements HandlerContext {
  readonly connectionId = `http-${randomUUID()}`;
  readonly remoteAddress: string | undefined;
  readonly state = new Map<string | symbol, unknown>();
  readonly logger: Logger;
  readonly protocol = "http" as const;
  readonly header = undefined;

  constructor(
    req: HttpIncoming,
    readonly signal: AbortSignal,
    logger: Logger,
  ) {
    this.remoteAddress = req.socket.remoteAddress;
    this.logger = logger.child({ req: this.connectionId });
  }

  /** An HTTP request has no connection of its own to close. */
  requestClose(): void {}
}

/** The body as JSON (undefined when empty); PAYLOAD_TOO_LARGE past `limit`, INVALID_JSON when not JSON. */
async function readJson(req: HttpIncoming, limit: number): Promise<unknown> {
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
    throw new ProtocolError("INVALID_JSON", "The request body is not valid JSON.");
  }
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
