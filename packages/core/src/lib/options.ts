/** Node options and their defaults. Every limit is configurable; docs/operations.md lists them. */
import type { Logger } from "pino";
import { z } from "zod";
import type { Plugin } from "./plugin.js";

export interface NodeLimits {
  /**
   * Largest frame the WebSocket layer accepts; a bigger one closes the connection with 1009.
   * The field's node had no cap; 1 MiB holds a prompt of ~250k tokens. Default 1 MiB.
   */
  maxPayloadBytes: number;
  /**
   * Frames above this (but within maxPayloadBytes) get a PAYLOAD_TOO_LARGE error reply and the
   * connection lives on. Default 512 KiB.
   */
  maxMessageBytes: number;
  /** Open connections per node; more are refused at the HTTP upgrade with 503. Default 4096. */
  maxConnections: number;
  /**
   * Open connections per remote address; more are refused with 429. Default 1024 (many clients
   * may share one address behind a NAT or a proxy, and a load test runs from one).
   */
  maxConnectionsPerAddress: number;
  /**
   * Token bucket per connection: sustained messages/second, every frame counted, garbage included
   * (0 = unlimited). Default 10 000: above what one client doing request/reply on loopback
   * reaches (so load tests pass), low enough to cap a flood at a small share of a core.
   */
  messagesPerSecond: number;
  /** Token bucket burst size. Default 20 000. */
  messageBurst: number;
  /** Requests being processed at once per connection; more get TOO_MANY_REQUESTS_IN_FLIGHT. Default 64. */
  maxInFlightPerConnection: number;
  /**
   * While the socket holds more than this many unsent bytes, streaming pauses and the node stops
   * reading that connection's requests (so a peer that does not read cannot make replies pile
   * up here). Default 1 MiB.
   */
  sendHighWaterMark: number;
  /** A peer whose buffer stays above the mark this long is disconnected and its work cancelled. Default 30 s. */
  stuckPeerTimeoutMs: number;
  /**
   * Time a client has to send a request's headers (HTTP, and a WebSocket upgrade); a slower one
   * is disconnected (slowloris). Default 10 s (Node's own is 60 s).
   */
  headersTimeoutMs: number;
  /** Time a client has to send a whole HTTP request, body included (not the response: streams run longer). Default 30 s. */
  requestTimeoutMs: number;
}

export interface TlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
}

export interface NodeOptions {
  plugins?: Plugin[];
  /** Default 8702, the field's port. 0 picks a free port. */
  port?: number;
  /** Default: all interfaces (IPv4 and IPv6). */
  host?: string;
  /** Identity reported in heartbeat_ack and logs. Default `node-<pid>-<random>`. */
  nodeId?: string;
  /** Server ping period. Default 25 000 ms (the field's node). */
  pingIntervalMs?: number;
  /** A peer that has not answered a ping within this is terminated. Default 30 000 ms. */
  pingTimeoutMs?: number;
  /** How long close() lets in-flight work finish before cancelling it. Default 10 000 ms. */
  shutdownTimeoutMs?: number;
  limits?: Partial<NodeLimits>;
  /** Serve wss:// when set. */
  tls?: TlsOptions;
  /** When set, upgrades whose Origin header is not listed are refused with 403. */
  allowedOrigins?: string[];
  /**
   * Host names (besides `localhost` and IP literals) a request arriving on a loopback address
   * may carry in its `Host` header; others get 403 (the DNS rebinding guard, host-check.ts).
   * `["*"]` turns the check off.
   */
  allowedHosts?: string[];
  /** A pino logger to use; otherwise one is made at `logLevel`. */
  logger?: Logger;
  /** Default: $MODELNODE_LOG_LEVEL or "info". */
  logLevel?: string;
}

export const DEFAULT_PORT = 8702;

export const DEFAULT_LIMITS: NodeLimits = {
  maxPayloadBytes: 1024 * 1024,
  maxMessageBytes: 512 * 1024,
  maxConnections: 4096,
  maxConnectionsPerAddress: 1024,
  messagesPerSecond: 10_000,
  messageBurst: 20_000,
  maxInFlightPerConnection: 64,
  sendHighWaterMark: 1024 * 1024,
  stuckPeerTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
};

/** An option createNode refuses: names the field and what was expected. */
export class NodeOptionsError extends Error {
  constructor(readonly issues: { path: string; message: string }[]) {
    super(`invalid node options: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`);
    this.name = "NodeOptionsError";
  }
}

const count = (min: number) => z.int({ error: `expected an integer ≥ ${min}` }).min(min, { error: `expected an integer ≥ ${min}` });

/** The limits' rules, exported so that applications compose them into their own config schema. */
export const nodeLimitsSchema = z.strictObject({
  maxPayloadBytes: count(1).optional(),
  maxMessageBytes: count(1).optional(),
  maxConnections: count(1).optional(),
  maxConnectionsPerAddress: count(1).optional(),
  /** 0 = unlimited. */
  messagesPerSecond: count(0).optional(),
  messageBurst: count(1).optional(),
  maxInFlightPerConnection: count(1).optional(),
  sendHighWaterMark: count(1).optional(),
  stuckPeerTimeoutMs: count(1).optional(),
  headersTimeoutMs: count(1).optional(),
  requestTimeoutMs: count(1).optional(),
});

/** createNode's data options (plugins and logger are checked separately). */
export const nodeOptionsSchema = z.object({
  port: z.int({ error: "expected an integer from 0 to 65535" }).min(0).max(65_535, { error: "expected an integer from 0 to 65535" }).optional(),
  host: z.string().min(1, { error: "expected a host name or address" }).optional(),
  nodeId: z.string().min(1, { error: "expected a non-empty string" }).max(128).optional(),
  pingIntervalMs: count(1).optional(),
  pingTimeoutMs: count(1).optional(),
  shutdownTimeoutMs: count(0).optional(),
  limits: nodeLimitsSchema.optional(),
  tls: z.object({ cert: z.any(), key: z.any() }).optional(),
  allowedOrigins: z.array(z.string()).optional(),
  allowedHosts: z.array(z.string().min(1, { error: "expected a host name" })).optional(),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional(),
});

/**
 * nodeOptionsSchema with every default filled in: what createNode runs on (and plugins read
 * through NODE_OPTIONS). The limits are DEFAULT_LIMITS overlaid with those given, maxMessageBytes
 * at most maxPayloadBytes; logLevel is left out (it made the logger).
 */
const resolvedNodeOptionsSchema = nodeOptionsSchema
  .extend({
    port: nodeOptionsSchema.shape.port.default(DEFAULT_PORT),
    nodeId: nodeOptionsSchema.shape.nodeId.default(() => `node-${process.pid}-${Math.random().toString(36).slice(2, 8)}`),
    pingIntervalMs: nodeOptionsSchema.shape.pingIntervalMs.default(25_000),
    pingTimeoutMs: nodeOptionsSchema.shape.pingTimeoutMs.default(30_000),
    shutdownTimeoutMs: nodeOptionsSchema.shape.shutdownTimeoutMs.default(10_000),
    limits: nodeOptionsSchema.shape.limits.transform((given): NodeLimits => {
      const limits = { ...DEFAULT_LIMITS, ...definedOnly(given ?? {}) };
      if (limits.maxMessageBytes > limits.maxPayloadBytes) limits.maxMessageBytes = limits.maxPayloadBytes;
      // Node refuses a headers timeout above the request timeout.
      if (limits.headersTimeoutMs > limits.requestTimeoutMs) limits.headersTimeoutMs = limits.requestTimeoutMs;
      return limits;
    }),
    tls: nodeOptionsSchema.shape.tls.transform((tls) => tls as TlsOptions | undefined),
  })
  .transform(({ logLevel: _, ...resolved }) => resolved);

export type ResolvedNodeOptions = z.output<typeof resolvedNodeOptionsSchema>;

export function resolveOptions(options: NodeOptions): ResolvedNodeOptions {
  const parsed = resolvedNodeOptionsSchema.safeParse(definedOnly(options as Record<string, unknown>));
  if (!parsed.success) {
    throw new NodeOptionsError(parsed.error.issues.map((i) => ({ path: i.path.join(".") || "(options)", message: i.message })));
  }
  if (options.tls && (!options.tls.cert || !options.tls.key)) {
    throw new NodeOptionsError([{ path: "tls", message: "expected both cert and key" }]);
  }
  return parsed.data;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
