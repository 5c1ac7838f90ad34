/**
 * The `license_hash` a client puts in later headers: `lh1.` + base64url(HMAC-SHA256(secret,
 * configured key hash)). It reveals nothing of the key or of its configured hash, differs per
 * node secret, and stops working when its key is removed from the configuration.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

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
