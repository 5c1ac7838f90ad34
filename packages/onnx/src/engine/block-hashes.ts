/**
 * Hashes of a token sequence's fixed-size blocks, chained as vLLM's automatic prefix caching does:
 * block i's hash = SHA-256(block i-1's hash, block i's token ids). Equal hashes mean equal
 * prefixes (the whole sequence up to the block's end), so a lookup walks the chain from the
 * start and stops at the first block not cached.
 */
import { createHash } from "node:crypto";

/**
 * Extends `known` (the hashes of `ids`' first blocks, computed earlier) to every full block of
 * `ids`' first `upTo` tokens, and returns it. A sequence that grows (a row's generated tokens, a
 * step session) keeps its array, so each block is hashed once.
 */
export function extendBlockHashes(ids: readonly number[], blockTokens: number, known: string[], upTo = ids.length): string[] {
  const blocks = Math.floor(Math.min(upTo, ids.length) / blockTokens);
  for (let b = known.length; b < blocks; b++) {
    const tokens = Int32Array.from(ids.slice(b * blockTokens, (b + 1) * blockTokens));
    const hash = createHash("sha256");
    if (b > 0) hash.update(known[b - 1]);
    hash.update(new Uint8Array(tokens.buffer));
    known.push(hash.digest("base64"));
  }
  return known;
}
