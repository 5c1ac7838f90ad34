/**
 * What a file must be, from the Hub's file list: its size, and a hash: sha256 for LFS files (the
 * LFS `oid`), the git blob id (sha1 of "blob <size>\0" + bytes) for files kept in git itself.
 */
import { createHash, type Hash } from "node:crypto";

export interface Expected {
  size: number;
  /** "sha256" (LFS) or "git-sha1" (git blob id); absent when the Hub gave no hash (then size alone). */
  algorithm?: "sha256" | "git-sha1";
  hash?: string;
}

export interface ListedFile {
  path: string;
  size: number;
  oid?: string;
  lfs?: { oid: string; size: number };
}

export function expectedOf(file: ListedFile): Expected {
  if (file.lfs) return { size: file.lfs.size, algorithm: "sha256", hash: file.lfs.oid.toLowerCase() };
  if (file.oid && /^[0-9a-f]{40}$/i.test(file.oid)) return { size: file.size, algorithm: "git-sha1", hash: file.oid.toLowerCase() };
  return { size: file.size };
}

/** A hash to feed the file's bytes into, in order. */
export function startHash(expected: Expected): Hash | undefined {
  if (expected.algorithm === "sha256") return createHash("sha256");
  if (expected.algorithm === "git-sha1") return createHash("sha1").update(`blob ${expected.size}\0`);
  return undefined;
}

/**
 * The ETag the Hub reports for a file, unquoted: for LFS files it is the sha256 (X-Linked-ETag),
 * for git files the blob id. A CDN's own ETag (after a redirect) is neither and says nothing.
 */
export function etagContradicts(etag: string | undefined, expected: Expected): boolean {
  if (!etag || !expected.hash) return false;
  const bare = etag.replace(/^W\//, "").replace(/"/g, "").toLowerCase();
  const looksLikeHash = expected.algorithm === "sha256" ? /^[0-9a-f]{64}$/.test(bare) : /^[0-9a-f]{40}$/.test(bare);
  return looksLikeHash && bare !== expected.hash;
}
