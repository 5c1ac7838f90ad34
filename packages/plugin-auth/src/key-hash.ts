/**
 * License keys are configured as hashes ("sha256:<64 hex>"), never as plain text, and a
 * presented key is matched by hashing it and comparing digests in constant time.
 */
import { createHash, timingSafeEqual } from "node:crypto";

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
