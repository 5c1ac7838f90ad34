/**
 * One file from its resolve URL into `<dest>.part`, then checked and renamed to `<dest>`. A broken
 * download keeps the partial file; the next attempt (a retry, or the next pull) asks for the rest
 * with an HTTP Range request, after hashing what is already there. A file whose bytes do not match
 * the Hub's size and hash is deleted, and the pull fails naming it.
 */
import { createReadStream, existsSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { HubPullError } from "./errors.js";
import { startHash, type Expected } from "./verify.js";

export interface DownloadRequest {
  /** The path in the repository (for messages). */
  path: string;
  url: string;
  dest: string;
  expected: Expected;
  fetch: typeof fetch;
  signal?: AbortSignal;
  /** Whether a `<dest>.part` left over is of this same file (same revision's hash): else it is discarded. */
  resumePart: boolean;
  /** Further attempts after a broken download, each continuing where the last stopped. */
  retries: number;
  /** An attempt that receives nothing for this long is broken off (and retried). */
  stallTimeoutMs: number;
  onBytes: (bytes: number) => void;
  /** A broken download is about to be retried from byte `at`. */
  onRetry?: (at: number, reason: string) => void;
}

export interface DownloadOutcome {
  /** Bytes received over the network for this file. */
  received: number;
  /** Where the first request started (the size of the partial file kept from before), 0 if fresh. */
  resumedFrom: number;
}

export async function downloadFile(request: DownloadRequest): Promise<DownloadOutcome> {
  const { path, expected, dest } = request;
  const part = `${dest}.part`;
  if (existsSync(part) && (!request.resumePart || statSync(part).size > expected.size)) rmSync(part);
  if (expected.size === 0) writeFileSync(part, ""); // nothing to fetch, but still checked and renamed
  const resumedFrom = existsSync(part) ? statSync(part).size : 0;
  let received = 0; // over every attempt, the broken ones included
  const counted = { ...request, onBytes: (bytes: number) => ((received += bytes), request.onBytes(bytes)) };
  for (let attempt = 0; ; attempt++) {
    const have = existsSync(part) ? statSync(part).size : 0;
    if (have >= expected.size) break;
    try {
      await fetchRest(counted, part, have);
    } catch (error) {
      if (error instanceof HubPullError && error.code !== "network") throw error;
      if (request.signal?.aborted) throw new HubPullError("aborted", `pull aborted while fetching ${path}; ${partNote(part)}`, { cause: error });
      const now = existsSync(part) ? statSync(part).size : 0;
      if (attempt >= request.retries) {
        throw new HubPullError(
          "network",
          `${path}: the download broke off at ${now} of ${expected.size} bytes (${describe(error)}); ${partNote(part)}`,
          { cause: error },
        );
      }
      request.onRetry?.(now, describe(error));
    }
  }
  await verifyPart(path, part, expected);
  renameSync(part, dest);
  return { received, resumedFrom };
}

/**
 * GETs bytes `have`..end into `part`; returns how many arrived. Throws on a network failure,
 * including `stallTimeoutMs` without a byte (a connection that hangs rather than breaks).
 */
async function fetchRest(request: DownloadRequest, part: string, have: number): Promise<number> {
  const stall = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const watch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => stall.abort(new StallError(request.stallTimeoutMs)), request.stallTimeoutMs);
  };
  const signal = request.signal ? AbortSignal.any([request.signal, stall.signal]) : stall.signal;
  watch();
  try {
    return await fetchRange(request, part, have, signal, watch);
  } catch (error) {
    throw stall.signal.aborted && !request.signal?.aborted ? stall.signal.reason : error;
  } finally {
    clearTimeout(timer);
  }
}

class StallError extends Error {
  constructor(ms: number) {
    super(`no data for ${ms / 1000} s`);
  }
}

async function fetchRange(request: DownloadRequest, part: string, have: number, signal: AbortSignal, alive: () => void): Promise<number> {
  const { path, url, expected } = request;
  const response = await request.fetch(url, { headers: have > 0 ? { Range: `bytes=${have}-` } : {}, signal });
  let start = have;
  if (have > 0 && response.status === 200) start = 0; // the server ignored the Range: take the whole file again
  else if (have > 0 && response.status === 416) {
    await response.body?.cancel();
    rmSync(part, { force: true }); // the partial file is not a prefix of this file: start over
    throw new HubPullError("network", `${path}: the server refused to continue at byte ${have}`);
  } else if (!response.ok) {
    await response.body?.cancel();
    throw new HubPullError(response.status === 401 || response.status === 403 ? "unauthorized" : "bad-response", `${path}: the Hub answered HTTP ${response.status} to the download`);
  } else if (response.status === 206) {
    const range = /^bytes (\d+)-/.exec(response.headers.get("content-range") ?? "");
    if (!range || Number(range[1]) !== have) {
      await response.body?.cancel();
      throw new HubPullError("bad-response", `${path}: asked for bytes from ${have}, got Content-Range "${response.headers.get("content-range")}"`);
    }
  }
  if (!response.body) throw new HubPullError("bad-response", `${path}: the Hub's answer has no body`);
  // Each chunk is written before the next is read, so what arrived before a break is on disk.
  let received = 0;
  const file = await open(part, start > 0 ? "a" : "w");
  try {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      alive();
      await file.write(chunk);
      received += chunk.length;
      request.onBytes(chunk.length);
    }
  } finally {
    await file.close();
  }
  if (start + received > expected.size) {
    rmSync(part, { force: true });
    throw new HubPullError("integrity", `${path}: the Hub sent ${start + received} bytes where it reports ${expected.size}; the file was deleted`);
  }
  return received;
}

/** Size and hash of the complete `.part`; a mismatch deletes it. */
async function verifyPart(path: string, part: string, expected: Expected): Promise<void> {
  const size = statSync(part).size;
  const fail = (what: string) => {
    rmSync(part, { force: true });
    return new HubPullError("integrity", `${path}: ${what}; the file was deleted (pull again to fetch it afresh)`);
  };
  if (size !== expected.size) throw fail(`${size} bytes arrived where the Hub reports ${expected.size}`);
  const hash = startHash(expected);
  if (!hash) return;
  for await (const chunk of createReadStream(part)) hash.update(chunk as Buffer);
  const actual = hash.digest("hex");
  if (actual !== expected.hash) {
    const name = expected.algorithm === "sha256" ? "sha256" : "git blob id";
    throw fail(`corrupted: its ${name} is ${actual}, the Hub reports ${expected.hash}`);
  }
}

function partNote(part: string): string {
  return existsSync(part) ? `the partial file is kept (${part}) and the next pull continues from there` : "nothing was kept";
}

function describe(error: unknown): string {
  const err = error as Error & { cause?: Error & { code?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  return cause ? `${err.message}: ${cause}` : err.message;
}
