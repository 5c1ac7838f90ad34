/** Options of the legacy plugin, their defaults, and the DI tokens it registers. */
import type { InjectionToken } from "@modelnode/core";

/**
 * Whose session a `session_id` names.
 * - "global": sessions are keyed by `session_id` alone, like the field's node: a client that
 *   reconnects continues where it left off, but any client that knows (or guesses) a
 *   session_id can continue or restart that session, and two clients that pick the same id
 *   share it.
 * - "connection": sessions are keyed by connection + `session_id`: clients are isolated and a
 *   session is freed as soon as its connection closes, but a reconnecting client starts over.
 */
export type SessionScope = "global" | "connection";

export interface LegacyPluginOptions {
  /** Model that legacy steps run on. Default: the pipeline's first model. */
  modelId?: string;
  /** Default "global" (what clients in the field expect). */
  sessionScope?: SessionScope;
  /**
   * Connection scope only: sessions one connection may hold; starting one more frees that
   * connection's least recently started session. Default 16.
   */
  maxSessionsPerConnection?: number;
  /** Most token ids in one step's `input_ids`. Default 4096. */
  maxInputTokens?: number;
  /** Longest `input_ids` string (text the node tokenises). Default 16 384 characters. */
  maxInputChars?: number;
  /** Longest `session_id`. Default 256 characters. */
  maxSessionIdLength?: number;
}

export type ResolvedLegacyOptions = Required<Omit<LegacyPluginOptions, "modelId">> & { modelId?: string };

export const LEGACY_DEFAULTS = {
  sessionScope: "global",
  maxSessionsPerConnection: 16,
  maxInputTokens: 4096,
  maxInputChars: 16_384,
  maxSessionIdLength: 256,
} as const satisfies Omit<ResolvedLegacyOptions, "modelId">;

export function resolveLegacyOptions(options: LegacyPluginOptions): ResolvedLegacyOptions {
  const resolved: ResolvedLegacyOptions = { ...LEGACY_DEFAULTS, modelId: options.modelId };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (resolved as Record<string, unknown>)[key] = value;
  }
  for (const key of ["maxSessionsPerConnection", "maxInputTokens", "maxInputChars", "maxSessionIdLength"] as const) {
    const value = resolved[key];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(`legacyPlugin: ${key} must be a positive integer (got ${String(value)})`);
    }
  }
  if (resolved.sessionScope !== "global" && resolved.sessionScope !== "connection") {
    throw new TypeError(`legacyPlugin: sessionScope must be "global" or "connection" (got ${String(resolved.sessionScope)})`);
  }
  return resolved;
}

/** What the plugin adds to getStats() under "legacy" (with the pipeline's session count). */
export interface LegacyCounters {
  steps: number;
  sessionsStarted: number;
}

export const LEGACY_OPTIONS: InjectionToken<ResolvedLegacyOptions> = Symbol("modelnode.legacy-options");
export const LEGACY_COUNTERS: InjectionToken<LegacyCounters> = Symbol("modelnode.legacy-counters");
