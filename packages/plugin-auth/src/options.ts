/**
 * authPlugin() options, defaults and checks. Error messages name the option, never its value:
 * key hashes and secrets must not end up in logs or crash reports.
 */
import { randomBytes } from "node:crypto";
import { isKeyHash } from "./key-hash.js";

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

export interface ResolvedAuthOptions {
  keyHashes: readonly string[];
  secret: Buffer;
  secretIsRandom: boolean;
  required: boolean;
  exemptTypes: ReadonlySet<string>;
  exemptLegacy: boolean;
  maxFailedAttempts: number;
  failureDelayMs: number;
  maxFailureDelayMs: number;
  addressFailureLimit: number;
  addressFailureWindowMs: number;
  maxTrackedAddresses: number;
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

export function resolveAuthOptions(options: AuthOptions): ResolvedAuthOptions {
  if (!options || !Array.isArray(options.keyHashes)) {
    throw new TypeError("authPlugin: keyHashes must be an array of \"sha256:<hex>\" key hashes");
  }
  options.keyHashes.forEach((hash, i) => {
    if (!isKeyHash(hash)) {
      throw new TypeError(
        `authPlugin: keyHashes[${i}] is not "sha256:" followed by 64 hex digits; plain keys are not ` +
          "accepted: configure hashLicenseKey(key) or the output of the hash-key CLI",
      );
    }
  });
  const secret = resolveSecret(options.secret);
  const exemptTypes = new Set(options.exemptTypes ?? AUTH_DEFAULTS.exemptTypes);
  exemptTypes.add("authentication"); // otherwise no one could ever authenticate
  return {
    keyHashes: [...options.keyHashes],
    secret: secret ?? randomBytes(MIN_SECRET_BYTES),
    secretIsRandom: secret === undefined,
    required: bool("required", options.required, AUTH_DEFAULTS.required),
    exemptTypes,
    exemptLegacy: bool("exemptLegacy", options.exemptLegacy, AUTH_DEFAULTS.exemptLegacy),
    maxFailedAttempts: whole("maxFailedAttempts", options.maxFailedAttempts, AUTH_DEFAULTS.maxFailedAttempts, 1),
    failureDelayMs: whole("failureDelayMs", options.failureDelayMs, AUTH_DEFAULTS.failureDelayMs, 0),
    maxFailureDelayMs: whole("maxFailureDelayMs", options.maxFailureDelayMs, AUTH_DEFAULTS.maxFailureDelayMs, 0),
    addressFailureLimit: whole("addressFailureLimit", options.addressFailureLimit, AUTH_DEFAULTS.addressFailureLimit, 0),
    addressFailureWindowMs: whole(
      "addressFailureWindowMs",
      options.addressFailureWindowMs,
      AUTH_DEFAULTS.addressFailureWindowMs,
      1,
    ),
    maxTrackedAddresses: whole("maxTrackedAddresses", options.maxTrackedAddresses, AUTH_DEFAULTS.maxTrackedAddresses, 0),
  };
}

function resolveSecret(secret: string | Buffer | undefined): Buffer | undefined {
  if (secret === undefined) return undefined;
  const bytes = typeof secret === "string" ? Buffer.from(secret, "utf8") : secret;
  if (!Buffer.isBuffer(bytes) || bytes.length < MIN_SECRET_BYTES) {
    throw new TypeError(`authPlugin: secret must be a string or Buffer of at least ${MIN_SECRET_BYTES} bytes`);
  }
  return Buffer.from(bytes);
}

function bool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new TypeError(`authPlugin: ${name} must be true or false`);
  return value;
}

function whole(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`authPlugin: ${name} must be a whole number ≥ ${min}`);
  }
  return value;
}
