/**
 * The credentials of authentication, hashed. License keys are configured as hashes
 * ("sha256:<64 hex>"), never as plain text, and a presented key is matched by hashing it and
 * comparing digests in constant time. The `license_hash` a client puts in later headers is
 * `lh1.` + base64url(HMAC-SHA256(secret, configured key hash)): it reveals nothing of the key or
 * of its configured hash, differs per node secret, and stops working when its key is removed
 * from the configuration.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export const KEY_HASH_PREFIX = "sha256:";
const KEY_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/i;

/** The configuration form of a license key: "sha256:" + hex SHA-256 of its UTF-8 bytes. */
export function hashLicenseKey(licenseKey: string): string {
  if (typeof licenseKey !== "string" || licenseKey.length === 0) {
    throw new TypeError("hashLicenseKey: the license key must be a non-empty string");
  }
  return KEY_HASH_PREFIX + sha256(licenseKey).toString("hex");
}

export function isKeyHash(text: unknown): text is string {
  return typeof text === "string" && KEY_HASH_PATTERN.test(text);
}

/** The configured key hashes as digests; matching never says which one failed or why. */
export class KeyDigests {
  readonly digests: readonly Buffer[];

  constructor(keyHashes: readonly string[]) {
    this.digests = keyHashes.map((h) => Buffer.from(h.slice(KEY_HASH_PREFIX.length), "hex"));
  }

  /** Index of the configured key equal to `licenseKey`, or -1. Compares against every entry. */
  match(licenseKey: string): number {
    const presented = sha256(licenseKey);
    let found = -1;
    this.digests.forEach((digest, i) => {
      // Every digest is compared, so the time taken does not depend on which one matches.
      if (timingSafeEqual(presented, digest) && found < 0) found = i;
    });
    return found;
  }
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

export const LICENSE_HASH_PREFIX = "lh1.";
// Domain separation: this HMAC is used for nothing else.
const CONTEXT = "modelnode license_hash v1\0";

export class LicenseHashes {
  private readonly tokens: readonly Buffer[];

  constructor(secret: Buffer, keyDigests: readonly Buffer[]) {
    this.tokens = keyDigests.map((digest) => {
      const mac = createHmac("sha256", secret).update(CONTEXT).update(digest).digest("base64url");
      return Buffer.from(LICENSE_HASH_PREFIX + mac, "ascii");
    });
  }

  /** The license_hash for the configured key at `index`. */
  issue(index: number): string {
    return this.tokens[index].toString("ascii");
  }

  /** Whether `presented` is the license_hash of a configured key; compared in constant time. */
  verify(presented: string): boolean {
    const candidate = Buffer.from(presented, "utf8");
    let valid = false;
    for (const token of this.tokens) {
      // Lengths are public (every token has the same one); contents are compared in constant time.
      if (candidate.length === token.length && timingSafeEqual(candidate, token)) valid = true;
    }
    return valid;
  }
}
