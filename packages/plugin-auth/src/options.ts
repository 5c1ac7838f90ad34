/**
 * authPlugin() options: one zod schema holds their defaults and checks, so that an application
 * can compose it into its own config schema (`authOptionsSchema.shape`). Error messages name the
 * option, never its value: key hashes and secrets must not end up in logs or crash reports.
 */
import { randomBytes } from "node:crypto";
import { parsePluginOptions, z } from "@modelnode/core";
import { isKeyHash } from "./credentials.js";

export interface AuthOptions {
  /** Accepted license keys as "sha256:<64 hex>" hashes (hashLicenseKey(key) or the hash-key CLI). */
  keyHashes: readonly string[];
  /**
   * Secret for the license_hash HMAC (≥ 32 bytes; a string counts as UTF-8). Default: random per
   * plugin instance, so license_hashes do not survive a restart and differ between nodes.
   */
  secret?: string | Buffer;
  /** Refuse messages that need auth (UNAUTHENTICATED) until authenticated. Default true. */
  required?: boolean;
  /** Message types served without auth. "authentication" is always exempt. Default ["heartbeat", "authentication"]. */
  exemptTypes?: readonly string[];
  /** Serve legacy-format messages without auth (they have no header to carry a license_hash). Default true. */
  exemptLegacy?: boolean;
  /** Failed attempts (wrong key or bad header license_hash) before the connection is closed with 1008. Default 5. */
  maxFailedAttempts?: number;
  /** Delay before answering a connection's first failure; doubles with each further one. 0 = none. Default 200 ms. */
  failureDelayMs?: number;
  /** Ceiling of that delay. Default 3000 ms. */
  maxFailureDelayMs?: number;
  /** Failed license keys per remote address per window before it gets RATE_LIMITED. 0 = no limit. Default 20. */
  addressFailureLimit?: number;
  /** Length of that window. Default 60 000 ms. */
  addressFailureWindowMs?: number;
  /** Remote addresses remembered for that limit (least recently failing forgotten first). Default 10 000. */
  maxTrackedAddresses?: number;
}

export const AUTH_DEFAULTS = {
  required: true,
  exemptTypes: ["heartbeat", "authentication"] as readonly string[],
  exemptLegacy: true,
  maxFailedAttempts: 5,
  failureDelayMs: 200,
  maxFailureDelayMs: 3000,
  addressFailureLimit: 20,
  addressFailureWindowMs: 60_000,
  maxTrackedAddresses: 10_000,
} as const;

export const MIN_SECRET_BYTES = 32;

const whole = (min: number) => {
  const error = `expected a whole number ≥ ${min}`;
  return z.int({ error }).min(min, { error });
};
const flag = () => z.boolean({ error: "expected true or false" });
const KEY_HASH_ERROR =
  'expected "sha256:" followed by 64 hex digits; plain keys are not accepted: configure hashLicenseKey(key) ' +
  "or the output of the hash-key CLI (modelnode-hash-key)";

/** The options' rules and defaults. Messages read "expected …", so that they fit after a field name. */
export const authOptionsSchema = z.strictObject({
  keyHashes: z
    .array(z.string({ error: KEY_HASH_ERROR }).refine(isKeyHash, { error: KEY_HASH_ERROR }), {
      error: 'expected an array of "sha256:<hex>" key hashes',
    }),
  /** A string counts as UTF-8. */
  secret: z
    .custom<string | Buffer>(
      (value) => (typeof value === "string" || Buffer.isBuffer(value)) && Buffer.byteLength(value) >= MIN_SECRET_BYTES,
      { error: `expected a string or Buffer of at least ${MIN_SECRET_BYTES} bytes` },
    )
    .optional(),
  required: flag().default(AUTH_DEFAULTS.required),
  exemptTypes: z
    .array(z.string({ error: "expected a message type" }).min(1, { error: "expected a message type" }), {
      error: "expected an array of message types",
    })
    .default(() => [...AUTH_DEFAULTS.exemptTypes]),
  exemptLegacy: flag().default(AUTH_DEFAULTS.exemptLegacy),
  maxFailedAttempts: whole(1).default(AUTH_DEFAULTS.maxFailedAttempts),
  failureDelayMs: whole(0).default(AUTH_DEFAULTS.failureDelayMs),
  maxFailureDelayMs: whole(0).default(AUTH_DEFAULTS.maxFailureDelayMs),
  addressFailureLimit: whole(0).default(AUTH_DEFAULTS.addressFailureLimit),
  addressFailureWindowMs: whole(1).default(AUTH_DEFAULTS.addressFailureWindowMs),
  maxTrackedAddresses: whole(0).default(AUTH_DEFAULTS.maxTrackedAddresses),
});

/**
 * The options with their defaults filled in, and three made ready for use: `secret` as bytes (a
 * random one when none was given, flagged by `secretIsRandom`), `exemptTypes` as a set that always
 * holds "authentication".
 */
export type ResolvedAuthOptions = Omit<z.output<typeof authOptionsSchema>, "secret" | "exemptTypes"> & {
  secret: Buffer;
  secretIsRandom: boolean;
  exemptTypes: ReadonlySet<string>;
};

export function resolveAuthOptions(options: AuthOptions): ResolvedAuthOptions {
  const { secret, exemptTypes, keyHashes, ...rest } = parsePluginOptions("authPlugin", authOptionsSchema, options);
  const exempt = new Set(exemptTypes);
  exempt.add("authentication"); // otherwise no one could ever authenticate
  return {
    ...rest,
    keyHashes: [...keyHashes],
    secret: secret === undefined ? randomBytes(MIN_SECRET_BYTES) : Buffer.from(secret),
    secretIsRandom: secret === undefined,
    exemptTypes: exempt,
  };
}
