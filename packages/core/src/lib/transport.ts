/**
 * The WebSocket transport: an http(s) server on one port, upgrade-time policy (draining,
 * origins, connection caps), per-connection lifecycle and pings, and graceful shutdown.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { WebSocketServer, type WebSocket } from "ws";
import { Connection, type CorkableSocket } from "./connection.js";
import { errors } from "./errors.js";
import { hostRefused } from "./host-check.js";
import type { HttpDoor } from "./http-door.js";
import type { RequestLifecycle } from "./lifecycle.js";
import type { ResolvedNodeOptions } from "./options.js";
import type { StatsCollector } from "./stats.js";
import type { WsDoor } from "./ws-door.js";

const CLOSE_GOING_AWAY = 1001;
const CLOSE_POLICY_VIOLATION = 1008;
const CLOSE_TRY_AGAIN_LATER = 1013;

interface PingState {
  lastPingAt: number;
  awaitingPongSince: number | undefined;
  /** Accepted by the caller's own server (gradual adoption): its socket is the caller's to close. */
  adopted: boolean;
}

export class WsTransport {
  private server: HttpServer | undefined;
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<Connection, PingState>();
  private readonly adopted = new WeakMap<WebSocket, Connection>();
  private readonly perAddress = new Map<string, number>();
  /** Connections whose reads are paused until their peer takes its replies (backpressure). */
  private readonly readsHeld = new WeakSet<Connection>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private draining = false;

  constructor(
    private readonly options: ResolvedNodeOptions,
    private readonly logger: Logger,
    private readonly stats: StatsCollector,
    private readonly lifecycle: RequestLifecycle,
    private readonly messages: WsDoor,
    private readonly http: HttpDoor,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.limits.maxPayloadBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
  }

  get port(): number | undefined {
    const address = this.server?.address();
    return address && typeof address === "object" ? address.port : undefined;
  }

  listen(port: number, host: string | undefined): Promise<{ port: number; host: string }> {
    const server = createNodeServer(this.options, (req, res) => this.onRequest(req, res));
    return bind(server, port, host).then((bound) => {
      this.serveOn(server);
      return bound;
    });
  }

  /** Takes over a server already bound (see startNode): its earlier request and upgrade listeners go. */
  serveOn(server: HttpServer): void {
    server.removeAllListeners("request");
    server.removeAllListeners("upgrade");
    server.on("request", (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
    this.server = server;
    this.attachHttp(server);
    const address = server.address();
    if (address && typeof address === "object") {
      this.logger.info({ port: address.port, host: address.address, tls: Boolean(this.options.tls) }, "listening");
    }
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (hostRefused(req, this.options.allowedHosts)) {
      const { code, message } = errors.hostNotAllowed();
      res.writeHead(403, { "content-type": "application/json", connection: "close" });
      res.end(JSON.stringify({ error: { code, message } }));
      return;
    }
    try {
      if (this.http.handle(req, res)) return;
    } catch (err) {
      // A bug here must not take the node down with it: log it and answer 500.
      this.logger.error({ err }, "HTTP request handling failed");
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "INTERNAL_ERROR", message: "The node failed to process this request." } }));
      return;
    }
    res.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" });
    res.end("This port speaks WebSocket (modelnode). Plain HTTP: GET /health, /livez, /readyz, /stats, and the routes plugins add.\n");
  }

  attach(target: WebSocketServer | HttpServer): void {
    if (target instanceof WebSocketServer) {
      // The caller's server has already upgraded: the same policy applies, as a close code.
      target.on("connection", (ws, req) => {
        const refusal = this.refusal(req);
        if (refusal) {
          this.logger.info({ remote: req.socket.remoteAddress, refusal }, "connection refused");
          ws.close(refusal.startsWith("403") ? CLOSE_POLICY_VIOLATION : CLOSE_TRY_AGAIN_LATER, refusal.slice(4));
          return;
        }
        this.accept(ws, req);
      });
      this.startSweep();
    } else {
      this.attachHttp(target);
    }
  }

  /**
   * Gradual adoption: a socket the caller accepted becomes a connection of this node on its
   * first message: counted, pinged, its work cancelled when it closes or the node shuts down.
   */
  processMessage(ws: WebSocket, message: unknown, isBinary: boolean): Promise<boolean> {
    let conn = this.adopted.get(ws);
    if (!conn) {
      // ws keeps the peer's address only on its (internal) socket; the caller's upgrade request is gone by now.
      conn = this.track(ws, (ws as unknown as { _socket?: { remoteAddress?: string } })._socket?.remoteAddress, false);
      this.adopted.set(ws, conn);
      this.startSweep();
    }
    return Promise.resolve(this.messages.dispatch(conn, message, isBinary, true));
  }

  private attachHttp(server: HttpServer): void {
    server.on("upgrade", (req, socket, head) => this.upgrade(req, socket, head));
    this.startSweep();
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refusal = this.refusal(req);
    if (refusal) {
      socket.end(`HTTP/1.1 ${refusal}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      this.logger.info({ remote: req.socket.remoteAddress, refusal }, "upgrade refused");
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
  }

  private refusal(req: IncomingMessage): string | undefined {
    const { limits, allowedOrigins } = this.options;
    if (hostRefused(req, this.options.allowedHosts)) return "403 Forbidden";
    if (this.draining) return "503 Service Unavailable";
    if (allowedOrigins && !allowedOrigins.includes(req.headers.origin ?? "")) return "403 Forbidden";
    if (this.connections.size >= limits.maxConnections) return "503 Service Unavailable";
    const address = req.socket.remoteAddress ?? "";
    if ((this.perAddress.get(address) ?? 0) >= limits.maxConnectionsPerAddress) return "429 Too Many Requests";
    return undefined;
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    const conn = this.track(ws, req.socket.remoteAddress, true, req.socket);
    ws.on("message", (data, isBinary) => this.onMessage(conn, data, isBinary));
  }

  /** Counts, pings and cleans up a connection; `ownsErrors` when this node owns the socket's listeners. */
  private track(ws: WebSocket, address: string | undefined, ownsErrors: boolean, socket?: CorkableSocket): Connection {
    const conn = new Connection(ws, address, this.logger, this.lifecycle.newClient(true), socket);
    this.connections.set(conn, { lastPingAt: Date.now(), awaitingPongSince: undefined, adopted: !ownsErrors });
    this.perAddress.set(address ?? "", (this.perAddress.get(address ?? "") ?? 0) + 1);
    this.stats.connectionOpened();
    conn.logger.info({ remote: address }, "connection open");

    ws.on("pong", () => {
      const ping = this.connections.get(conn);
      if (ping) ping.awaitingPongSince = undefined;
    });
    // ws reports protocol violations (oversize frame → 1009, bad UTF-8 → 1007) here, then closes.
    if (ownsErrors) ws.on("error", (err) => conn.logger.info({ err: err.message }, "socket error"));
    ws.once("close", (code, reason) => {
      this.connections.delete(conn);
      const left = (this.perAddress.get(address ?? "") ?? 1) - 1;
      if (left > 0) this.perAddress.set(address ?? "", left);
      else this.perAddress.delete(address ?? "");
      this.stats.connectionClosed();
      conn.markClosed("connection closed");
      conn.logger.info({ code, reason: reason.toString().slice(0, 120) }, "connection closed");
    });
    return conn;
  }

  /** The door answers every failure itself; this only catches what escapes it (a bug). */
  private onMessage(conn: Connection, data: unknown, isBinary: boolean): void {
    try {
      const pending = this.messages.dispatch(conn, data, isBinary);
      if (pending !== true && pending !== false) pending.catch((err) => conn.logger.error({ err }, "dispatch failed"));
    } catch (err) {
      conn.logger.error({ err }, "dispatch failed");
    }
    if (conn.ws.bufferedAmount > this.options.limits.sendHighWaterMark) this.holdReads(conn);
  }

  /**
   * Backpressure for every reply, not only streams: while a peer leaves more than
   * sendHighWaterMark bytes unread, its further requests stay unread too (so its replies cannot
   * pile up in this process); a peer stuck past stuckPeerTimeoutMs is disconnected.
   */
  private holdReads(conn: Connection): void {
    if (this.readsHeld.has(conn)) return;
    this.readsHeld.add(conn);
    conn.ws.pause();
    const { sendHighWaterMark, stuckPeerTimeoutMs } = this.options.limits;
    void conn.drain(sendHighWaterMark / 2, stuckPeerTimeoutMs).then((drained) => {
      this.readsHeld.delete(conn);
      if (drained) {
        conn.ws.resume();
      } else if (conn.isOpen) {
        conn.logger.warn({ bufferedAmount: conn.ws.bufferedAmount }, "peer stopped reading; disconnecting");
        conn.ws.terminate();
      }
    });
  }

  /** One timer for all connections: ping every interval, terminate peers silent past the timeout. */
  private startSweep(): void {
    if (this.sweepTimer) return;
    const { pingIntervalMs, pingTimeoutMs } = this.options;
    const period = Math.max(10, Math.min(pingIntervalMs, pingTimeoutMs) / 5);
    this.sweepTimer = setInterval(() => {
      const now = Date.now();
      for (const [conn, ping] of this.connections) {
        if (ping.awaitingPongSince !== undefined) {
          if (now - ping.awaitingPongSince > pingTimeoutMs) {
            conn.logger.info("peer did not answer ping; terminating");
            conn.ws.terminate();
          }
        } else if (now - ping.lastPingAt >= pingIntervalMs && conn.isOpen) {
          ping.lastPingAt = now;
          ping.awaitingPongSince = now;
          conn.ws.ping();
        }
      }
    }, period);
    this.sweepTimer.unref();
  }

  async shutdown(timeoutMs: number): Promise<void> {
    this.draining = true;
    this.lifecycle.draining = true;
    // The port stays open while the node drains: probes get 503 "draining", new HTTP requests
    // 503 SHUTTING_DOWN, upgrades 503; it closes once the connections have.
    const deadline = Date.now() + timeoutMs;
    while (this.stats.inFlight > 0 && Date.now() < deadline) await sleep(10);
    if (this.stats.inFlight > 0) {
      this.logger.warn({ inFlight: this.stats.inFlight }, "shutdown deadline passed; cancelling in-flight work");
      for (const conn of this.connections.keys()) conn.markClosed("node shutting down");
      this.http.abortAll();
      // Give cancelled handlers a moment to send their final (cancelled) replies.
      const grace = Date.now() + 2000;
      while (this.stats.inFlight > 0 && Date.now() < grace) await sleep(10);
    }
    const closed = [...this.connections].map(
      ([conn, state]) =>
        new Promise<void>((resolve) => {
          if (state.adopted) conn.markClosed("node shutting down");
          if (!conn.isOpen || state.adopted) return resolve();
          const force = setTimeout(() => conn.ws.terminate(), 2000);
          conn.ws.once("close", () => {
            clearTimeout(force);
            resolve();
          });
          conn.close(CLOSE_GOING_AWAY, "server shutting down");
        }),
    );
    await Promise.all(closed);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.server) {
      const serverClosed = new Promise<void>((resolve) => this.server!.close(() => resolve()));
      this.server.closeAllConnections?.();
      await serverClosed;
    }
    this.wss.close();
  }
}

/**
 * The node's http(s) server (plugins' routes, operator endpoints, WebSocket upgrades), with
 * header and request timeouts suited to a model server: a client that trickles its headers
 * (slowloris) is dropped after `headersTimeoutMs`, not Node's 60 s.
 */
export function createNodeServer(options: ResolvedNodeOptions, onRequest: (req: IncomingMessage, res: ServerResponse) => void): HttpServer {
  const { tls, limits } = options;
  const timeouts = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // How often Node checks those timeouts (its default, 30 s, would make a 10 s limit 40 s).
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
  };
  return tls ? createHttpsServer({ ...timeouts, cert: tls.cert, key: tls.key }, onRequest) : createHttpServer(timeouts, onRequest);
}

/** Binds `server`; rejects (EADDRINUSE, EACCES…) without leaving it listening. */
export function bind(server: HttpServer, port: number, host: string | undefined): Promise<{ port: number; host: string }> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address();
      const bound = typeof address === "object" && address ? address : { port, address: host ?? "::" };
      resolve({ port: bound.port, host: bound.address });
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
