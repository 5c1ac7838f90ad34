/**
 * Options of the legacy plugin (one zod schema holds their defaults and checks, so that an
 * application can compose it into its own config schema), and the DI tokens it registers.
 */
import { parsePluginOptions, z, type InjectionToken } from "@modelnode/core";

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

export const LEGACY_DEFAULTS = {
  sessionScope: "global",
  maxSessionsPerConnection: 16,
  maxInputTokens: 4096,
  maxInputChars: 16_384,
  maxSessionIdLength: 256,
} as const satisfies Required<Omit<LegacyPluginOptions, "modelId">>;

const positive = () => {
  const error = "expected a positive integer";
  return z.int({ error }).min(1, { error });
};

/** The options' rules and defaults. Messages read "expected …", so that they fit after a field name. */
export const legacyOptionsSchema = z.strictObject({
  modelId: z.string({ error: "expected a model id" }).min(1, { error: "expected a model id" }).optional(),
  sessionScope: z.enum(["global", "connection"], { error: 'expected "global" or "connection"' }).default(LEGACY_DEFAULTS.sessionScope),
  maxSessionsPerConnection: positive().default(LEGACY_DEFAULTS.maxSessionsPerConnection),
  maxInputTokens: positive().default(LEGACY_DEFAULTS.maxInputTokens),
  maxInputChars: positive().default(LEGACY_DEFAULTS.maxInputChars),
  maxSessionIdLength: positive().default(LEGACY_DEFAULTS.maxSessionIdLength),
});

/** The options with their defaults filled in (modelId stays unset: the pipeline's first model). */
export type ResolvedLegacyOptions = z.output<typeof legacyOptionsSchema>;

export function resolveLegacyOptions(options: LegacyPluginOptions = {}): ResolvedLegacyOptions {
  return parsePluginOptions("legacyPlugin", legacyOptionsSchema, options);
}

/** What the plugin adds to getStats() under "legacy" (with the pipeline's session count). */
export interface LegacyCounters {
  steps: number;
  sessionsStarted: number;
}

export const LEGACY_OPTIONS: InjectionToken<ResolvedLegacyOptions> = Symbol("modelnode.legacy-options");
export const LEGACY_COUNTERS: InjectionToken<LegacyCounters> = Symbol("modelnode.legacy-counters");
