/**
 * A Hub-shaped HTTP server on a free loopback port, for tests (there is no Hub to reach): it
 * serves folders as model repositories over the routes @huggingface/hub and pullModel use, with
 * the headers the real Hub sends, and can break a download or corrupt a file on purpose.
 *
 * - `GET /api/models/{id}/revision/{rev}`: the model's info with its commit `sha`
 * - `GET /api/models/{id}/tree/{rev}[/{path}]?recursive=…`: the file list, paginated with a `Link: …; rel="next"` header
 * - `GET /{id}/resolve/{rev}/{path}`: the file, with Range support (206, Content-Range), `ETag`,
 *   and for LFS files (`*.onnx`, `*.onnx_data`, anything over 1 MB) `X-Linked-Size` and `X-Linked-ETag`
 *   (their sha256); a missing file is 404 with `X-Error-Code: EntryNotFound`
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, relative, sep } from "node:path";

export interface FakeHubOptions {
  /** Repository id → the folder served as its files. */
  repos: Record<string, string>;
  /** Demand `Authorization: Bearer <token>` on every route. */
  token?: string;
  /** Entries per page of the file list (default 3: small, so that listing pages). */
  pageSize?: number;
}

export interface FakeHubRequest {
  method: string;
  path: string;
  range?: string;
}

export interface FakeHub {
  url: string;
  /** Every request so far, in order. */
  requests: FakeHubRequest[];
  /** Body bytes sent per repository file path (`{id}/{path}`), whole or ranged (not counting `bytes=0-0` probes). */
  bytesSent: Map<string, number>;
  /** The next full (not `bytes=0-0`) download of `{id}/{path}` stops after `bytes` and the connection is cut. */
  cutNextDownload(file: string, bytes: number): void;
  /** The next full download of `{id}/{path}` sends `bytes`, then nothing more (the connection stays open). */
  stallNextDownload(file: string, bytes: number): void;
  /** Downloads of `{id}/{path}` send bytes with one flipped (same length), until `repair`. */
  corrupt(file: string): void;
  repair(file: string): void;
  close(): Promise<void>;
}

interface RepoFile {
  path: string;
  bytes: Buffer;
  gitOid: string;
  sha256?: string;
}

const LFS_PATTERN = /\.onnx(_data(_\d+)?)?$/;

function readRepo(dir: string): RepoFile[] {
  const files: RepoFile[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const full = join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const bytes = readFileSync(full);
        const path = relative(dir, full).split(sep).join("/");
        const lfs = LFS_PATTERN.test(path) || bytes.length > 1_000_000;
        files.push({
          path,
          bytes,
          gitOid: createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex"),
          sha256: lfs ? createHash("sha256").update(bytes).digest("hex") : undefined,
        });
      }
    }
  };
  walk(dir);
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

export async function startFakeHub(options: FakeHubOptions): Promise<FakeHub> {
  const repos = new Map(Object.entries(options.repos).map(([id, dir]) => [id, { files: readRepo(dir), sha: createHash("sha1").update(id).digest("hex") }]));
  const pageSize = options.pageSize ?? 3;
  const requests: FakeHubRequest[] = [];
  const bytesSent = new Map<string, number>();
  const cuts = new Map<string, number>();
  const stalls = new Map<string, number>();
  const corrupted = new Set<string>();

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "Content-Type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
  const notFound = (res: ServerResponse, code: string, message: string) => json(res, 404, { error: message }, { "X-Error-Code": code });

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://fake-hub");
    const path = decodeURIComponent(url.pathname);
    requests.push({ method: req.method ?? "GET", path, range: req.headers.range });
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      return json(res, 401, { error: "Invalid username or password." });
    }
    const api = /^\/api\/models\/(.+?)\/(revision|tree)\/([^/]+)(?:\/(.*))?$/.exec(path);
    const resolveMatch = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const id = api?.[1] ?? resolveMatch?.[1];
    const repo = id === undefined ? undefined : repos.get(id);
    if (!repo) return notFound(res, "RepoNotFound", "Repository not found");
    const rev = api?.[3] ?? resolveMatch?.[2];
    if (rev !== "main" && rev !== "HEAD" && rev !== repo.sha) return notFound(res, "RevisionNotFound", `Invalid rev id: ${rev}`);

    if (api?.[2] === "revision") {
      return json(res, 200, {
        _id: `id-${repo.sha.slice(0, 24)}`,
        id,
        sha: repo.sha,
        private: Boolean(options.token),
        gated: false,
        downloads: 0,
        likes: 0,
        pipeline_tag: "text-generation",
        lastModified: "2026-12-01T00:00:00.000Z",
        siblings: repo.files.map((f) => ({ rfilename: f.path })),
      });
    }
    if (api?.[2] === "tree") return listTree(req, res, url, repo.files, api[4] ?? "");
    const file = repo.files.find((f) => f.path === resolveMatch![3]);
    if (!file) return notFound(res, "EntryNotFound", "Entry not found");
    serveFile(req, res, `${id}/${file.path}`, file, repo.sha);
  };

  const listTree = (req: IncomingMessage, res: ServerResponse, url: URL, files: RepoFile[], under: string) => {
    const recursive = url.searchParams.get("recursive") === "true";
    const prefix = under ? `${under}/` : "";
    const inside = files.filter((f) => f.path.startsWith(prefix));
    const dirs = new Set<string>();
    const entries: object[] = [];
    for (const f of inside) {
      const rest = f.path.slice(prefix.length).split("/");
      for (let depth = 1; depth < rest.length && (recursive || depth === 1); depth++) {
        const dir = prefix + rest.slice(0, depth).join("/");
        if (!dirs.has(dir)) entries.push({ type: "directory", oid: createHash("sha1").update(dir).digest("hex"), size: 0, path: dir });
        dirs.add(dir);
      }
      if (!recursive && rest.length > 1) continue;
      entries.push({
        type: "file",
        oid: f.gitOid,
        size: f.bytes.length,
        path: f.path,
        ...(f.sha256 ? { lfs: { oid: f.sha256, size: f.bytes.length, pointerSize: 134 } } : {}),
      });
    }
    const cursor = Number(url.searchParams.get("cursor") ?? "0");
    const page = entries.slice(cursor, cursor + pageSize);
    const headers: Record<string, string> = {};
    if (cursor + pageSize < entries.length) {
      const next = new URL(url.href.replace("http://fake-hub", `http://${req.headers.host}`));
      next.searchParams.set("cursor", String(cursor + pageSize));
      headers.Link = `<${next.href}>; rel="next"`;
    }
    json(res, 200, page, headers);
  };

  const serveFile = (req: IncomingMessage, res: ServerResponse, key: string, file: RepoFile, sha: string) => {
    let body = file.bytes;
    if (corrupted.has(key)) {
      body = Buffer.from(body);
      body[body.length >> 1] ^= 0xff;
    }
    const size = body.length;
    const etag = `"${file.sha256 ?? file.gitOid}"`;
    const headers: Record<string, string | number> = { ETag: etag, "Accept-Ranges": "bytes", "X-Repo-Commit": sha, "Content-Type": "application/octet-stream" };
    if (file.sha256) Object.assign(headers, { "X-Linked-Size": size, "X-Linked-ETag": etag });
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    let start = 0;
    let end = size - 1;
    let status = 200;
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size) {
        res.writeHead(416, { "Content-Range": `bytes */${size}` });
        return res.end();
      }
      status = 206;
      headers["Content-Range"] = `bytes ${start}-${end}/${size}`;
    }
    headers["Content-Length"] = end - start + 1;
    res.writeHead(status, headers);
    if (req.method === "HEAD") return res.end();
    const chunk = body.subarray(start, end + 1);
    const cut = cuts.get(key);
    const isProbe = req.headers.range === "bytes=0-0";
    if (cut !== undefined && !isProbe) {
      cuts.delete(key);
      const sent = chunk.subarray(0, cut);
      bytesSent.set(key, (bytesSent.get(key) ?? 0) + sent.length);
      // The connection closes mid-body (FIN, so every byte sent arrives): the client sees a short, broken response.
      res.write(sent, () => res.socket?.end());
      return;
    }
    const stall = stalls.get(key);
    if (stall !== undefined && !isProbe) {
      stalls.delete(key);
      bytesSent.set(key, (bytesSent.get(key) ?? 0) + Math.min(stall, chunk.length));
      res.write(chunk.subarray(0, stall)); // and then silence, until the client gives up or close()
      return;
    }
    if (!isProbe) bytesSent.set(key, (bytesSent.get(key) ?? 0) + chunk.length);
    res.end(chunk);
  };

  const server = createServer(handle);
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    bytesSent,
    cutNextDownload: (file, bytes) => cuts.set(file, bytes),
    stallNextDownload: (file, bytes) => stalls.set(file, bytes),
    corrupt: (file) => corrupted.add(file),
    repair: (file) => corrupted.delete(file),
    close: () =>
      new Promise((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

