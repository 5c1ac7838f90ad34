/** The gateway's options, their defaults, and the failure counters its parts share (stats()). */
import { DEFAULT_PREFIX } from "./protocol.js";
import type { MinimalLogger } from "./logger.js";
import type { NatsAuth, NatsConnectOptions, NatsTls } from "./connect-options.js";
import { checkGatewayLimits } from "./limits.js";
import type { JetStreamSessionStoreOptions } from "./jetstream-session-store.js";

/**
 * Where legacy step sessions are kept (session-store.ts): "memory", this gateway's own (one
 * gateway; its death loses them), or "jetstream", a JetStream key-value bucket every gateway on
 * the same NATS shares (a session goes on at another gateway after its own died).
 */
export type SessionStoreOptions = { kind: "memory" } | JetStreamSessionStoreOptions;

/** `servers`: NATS server URL(s); `auth`, `tls`: how to authenticate and encrypt (connect-options.ts). */
export interface NatsPipelineOptions extends NatsConnectOptions {
  prefix?: string;
  /** This gateway's id (scopes its sessions on the workers). Default: random. */
  name?: string;
  /** How long to wait at start for a first worker's heartbeat. Default 2000 ms. */
  discoverMs?: number;
  /** Tries per generation or step (busy workers, dead workers). Default 5. */
  maxAttempts?: number;
  /** A request/reply to a worker (submit, ping, tokenize) times out after this. Default 2000 ms. */
  requestTimeoutMs?: number;
  /** A generation with no message for this long gets its worker pinged. Default 1500 ms. */
  idleMs?: number;
  /** A step gets its worker pinged every this often while it waits (and at once when its heartbeats stop). Default 1500 ms. */
  stepIdleMs?: number;
  /** A worker taken for dead is not picked directly for this long. Default 30 s. */
  avoidMs?: number;
  /** Credit window: pieces a worker may send beyond the last acknowledged. Default 16. */
  window?: number;
  /** A worker missing heartbeats for this long leaves the membership. Default 5000 ms. */
  memberTtlMs?: number;
  /**
   * A worker silent for this many of its heartbeat periods (it says its period) is pinged; one
   * with no responders (its connection closed) is taken for dead and its generations resume
   * elsewhere. Default 2
   * (with the workers' default 100 ms period: a SIGKILLed worker is found 100–250 ms after).
   */
  missedHeartbeats?: number;
  /** How often to look for silent workers. Default 50 ms. */
  livenessCheckMs?: number;
  /** Pause between reconnect tries to the same NATS server (the client's reconnectTimeWait). Default 250 ms. */
  reconnectWaitMs?: number;
  /**
   * After a NATS server's death or restart: how long a generation waits for NATS to come back, or
   * for a worker to take over its resumed try, before it ends in `BUSY` (retryable). Default 10 s.
   */
  recoveryMs?: number;
  /** Where legacy step sessions are kept. Default { kind: "memory" }. */
  sessionStore?: SessionStoreOptions;
  logger?: MinimalLogger;
}

export type GatewayOptions = Required<Omit<NatsPipelineOptions, "logger" | "name" | "auth" | "tls" | "connectTimeoutMs">> & {
  name: string;
  logger?: MinimalLogger;
  auth?: NatsAuth;
  tls?: NatsTls;
  connectTimeoutMs?: number;
};

export function withDefaults(options: NatsPipelineOptions): GatewayOptions {
  checkGatewayLimits(options);
  return {
    prefix: DEFAULT_PREFIX, name: `g${Math.random().toString(36).slice(2, 10)}`, discoverMs: 2000, maxAttempts: 5,
    requestTimeoutMs: 2000, idleMs: 1500, stepIdleMs: 1500, avoidMs: 30_000, window: 16, memberTtlMs: 5000,
    missedHeartbeats: 2, livenessCheckMs: 50,
    reconnectWaitMs: 250, recoveryMs: 10_000,
    ...options,
    sessionStore: options.sessionStore ?? { kind: "memory" },
  };
}

/** What stats() reports beyond the pipeline's figures. */
export interface GatewayCounters {
  /** Generations offered again (busy, handed back, or their worker lost). */
  resubmits: number;
  /** Workers taken for dead mid-generation or mid-step. */
  workerFailures: number;
  /** Step sessions whose history was replayed on another worker. */
  replays: number;
  /** Gaps seen in a stream's sequence numbers (pieces lost in flight, e.g. with a NATS server): each asked the worker to resend. */
  gaps: number;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
