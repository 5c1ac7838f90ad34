/** The client's options with their defaults filled in. */
import type { ClientOptions } from "./types.js";

/** Every option's default. */
export const CLIENT_DEFAULTS = {
  autoConnect: true,
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  heartbeatIntervalMs: 15_000,
  heartbeatTimeoutMs: 10_000,
  workerId: "modelnode-client",
  resumable: true,
  reconnect: { initialDelayMs: 500, maxDelayMs: 15_000, maxAttempts: Infinity },
} as const;

export interface ReconnectPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  maxAttempts: number;
}

export interface ResolvedOptions {
  model: string | undefined;
  autoConnect: boolean;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  workerId: string;
  /** false: close instead of reconnecting. */
  reconnect: ReconnectPolicy | false;
  licenseHash: string | undefined;
  resumable: boolean;
}

/** The options with defaults (the WebSocket class and the license key are the client's own business). */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  const reconnect = options.reconnect === false ? false : { ...CLIENT_DEFAULTS.reconnect, ...options.reconnect };
  return {
    model: options.model,
    autoConnect: options.autoConnect ?? CLIENT_DEFAULTS.autoConnect,
    connectTimeoutMs: options.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs ?? CLIENT_DEFAULTS.requestTimeoutMs,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? CLIENT_DEFAULTS.heartbeatIntervalMs,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? CLIENT_DEFAULTS.heartbeatTimeoutMs,
    workerId: options.workerId ?? CLIENT_DEFAULTS.workerId,
    reconnect,
    licenseHash: options.licenseHash || undefined,
    resumable: options.resumable ?? CLIENT_DEFAULTS.resumable,
  };
}
