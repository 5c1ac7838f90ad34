/**
 * HTTP routes a plugin adds to the node's one port (same TLS, origin policy, guards, limits and
 * coded errors as WebSocket messages). Like a handler, a route is transport-free: it gets a
 * parsed, validated request and a context, and returns a JSON body, text, or a stream of
 * server-sent events; core reads the socket, writes the response and turns errors into JSON.
 */
import type { InjectionToken } from "tsyringe";
import type { z, ZodType } from "zod";
import type { HandlerContext } from "./context.js";
import type { SchemaSource } from "./decorators.js";
import type { ErrorBody } from "./errors.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface HttpRequest<B = unknown> {
  method: HttpMethod;
  /** The path without its query string. */
  path: string;
  /** Values of the route's `:name` segments (e.g. `/v1/models/:id` → `{ id }`), URL-decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** Lower-cased header names, as Node gives them. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The validated JSON body (routes with a schema), the parsed JSON (without one), or undefined. */
  body: B;
}

/** What a route returns. */
export type HttpResponse =
  | { status?: number; headers?: Record<string, string>; json: unknown }
  | { status?: number; headers?: Record<string, string>; text: string; contentType?: string }
  | {
      status?: number;
      headers?: Record<string, string>;
      /**
       * A stream: server-sent events by default, each item sent as `data: <item>\n\n` (objects as
       * JSON); with `framing: "ndjson"`, one line of JSON per item (`application/x-ndjson`, as
       * Ollama streams). Core stops iterating (the generator's finally runs) when the client
       * disconnects, and waits for the socket to drain before pulling the next item.
       */
      events: AsyncIterable<string | object>;
      /** Sent as the last event when the stream ends normally (e.g. OpenAI's "[DONE]"). */
      end?: string;
      /** "sse" (the default) or "ndjson". An error after the headers is the stream's last item, in the route's error shape. */
      framing?: "sse" | "ndjson";
      /**
       * With "sse": each object event's `event:` name (e.g. Anthropic's `message_start`), or undefined for
       * none; also asked of a mid-stream error's payload (the route's `formatError` shape).
       */
      eventName?: (event: object) => string | undefined;
    };

export interface RouteOptions<S extends ZodType> {
  method: HttpMethod;
  /**
   * The path, e.g. "/v1/models"; a segment `:name` matches any one segment (`/v1/models/:id`).
   * A last segment `*` (`/api/*`) matches every path under the prefix that no other route
   * matches (the rest is `params["*"]`): an API's own answer to its unknown paths.
   */
  path: string;
  /** Shown to guards (IncomingMessage.type), in stats and logs. Default `${method} ${path}`. */
  name?: string;
  /** zod schema of the JSON body (POST/PUT/PATCH); VALIDATION_FAILED (400) when it fails. */
  schema?: SchemaSource<S>;
  /** Largest body accepted, in bytes (PAYLOAD_TOO_LARGE, 413, above it). Default: the node's maxMessageBytes. */
  maxBodyBytes?: number;
  /**
   * Operator endpoints (probes, metrics) set false: no guards, no rate limit, not counted as a
   * request. Default true.
   */
  guarded?: boolean;
  /** How an error is written, e.g. in another API's error shape. Default `{ error: { code, message, details } }`. */
  formatError?: (error: ErrorBody, status: number) => unknown;
}

export interface RouteSpec<S extends ZodType, D> extends RouteOptions<S> {
  /** Services from the node's container, resolved once when the node is composed. */
  inject?: { [K in keyof D]: InjectionToken<D[K]> };
  handle(req: HttpRequest<z.output<S>>, ctx: HandlerContext, deps: D): HttpResponse | Promise<HttpResponse>;
}

const ROUTE = Symbol.for("modelnode.route-definition");

export interface RouteDefinition<S extends ZodType = ZodType, D = any> extends RouteSpec<S, D> {
  readonly [ROUTE]: true;
}

/** A route as a plain value (listed in a plugin's `routes`). */
export function defineRoute<S extends ZodType = ZodType<unknown>, D extends Record<string, unknown> = Record<string, never>>(
  spec: RouteSpec<S, D>,
): RouteDefinition<S, D> {
  return { ...spec, [ROUTE]: true };
}

export function isRouteDefinition(value: unknown): value is RouteDefinition {
  return typeof value === "object" && value !== null && (value as { [ROUTE]?: unknown })[ROUTE] === true;
}

/** A route ready to serve: schema built and dependencies resolved. */
export interface ResolvedRoute {
  method: HttpMethod;
  path: string;
  name: string;
  plugin: string;
  schema: ZodType | undefined;
  maxBodyBytes: number | undefined;
  guarded: boolean;
  formatError: ((error: ErrorBody, status: number) => unknown) | undefined;
  handle(req: HttpRequest, ctx: HandlerContext): HttpResponse | Promise<HttpResponse>;
}
