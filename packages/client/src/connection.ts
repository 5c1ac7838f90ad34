/**
 * Connection: the client's connection lifecycle, one socket at a time, as a state machine.
 *
 *   idle ─▶ connecting ─▶ open ─▶ reconnecting ─▶ open ─▶ …
 *               │                    ▲      │
 *               └── attempt failed ──┘      └── attempt failed: reconnecting again, after a backoff
 *   any state ─▶ closed: close(), a policy close (1008), reconnect off, or maxAttempts spent
 *
 * "connecting" and "reconnecting" each cover a socket being opened (under the connect
 * timeout), then an open socket re-authenticating when a key is held; "reconnecting" also covers
 * the backoff before the next attempt (full jitter). Only once open (and re-authenticated:
 * `#ready`) do requests go out at once; before, they wait in the queue. When a socket goes, the
 * requests in flight on it fail with ConnectionLostError; queued ones wait for the next socket.
 * While open, a heartbeat probe checks that the node still answers.
 *
 * Given several URLs (nodes or gateways serving the same models), each attempt takes the next
 * one, round robin: a dropped connection is followed by an attempt on the next node, and a
 * resumable generation in flight continues there (generation-request.ts).
 */
import { backoffDelay } from "./backoff.js";
import type { Credentials } from "./credentials.js";
import { AuthenticationError, ConnectionLostError, ModelNodeError, TimeoutError } from "./errors.js";
import type { StateEventInit } from "./events.js";
import type { GenerationChannel } from "./generation-request.js";
import { HeartbeatProbe } from "./heartbeat.js";
import type { ResolvedOptions } from "./options.js";
import type { PendingRequest, PendingRequests } from "./pending-requests.js";
import { startCall } from "./requests.js";
import { ClientSocket, describe, frameText } from "./socket.js";
import type { AuthenticationResponse, ConnectionState, Reply, WebSocketConstructor } from "./types.js";

const noop = () => {};

type Timer = ReturnType<typeof setTimeout>;

/** What the connection tells the client, which dispatches them as events. */
export interface ConnectionEvents {
  stateChanged(state: ConnectionState, init: StateEventInit): void;
  /** Something that belongs to no call (see ClientErrorEvent). */
  error(error: ModelNodeError): void;
}

export class Connection implements GenerationChannel {
  readonly #urls: readonly string[];
  /** The URL of the current (or last) attempt. */
  #url: string;
  readonly #WebSocket: WebSocketConstructor;
  readonly #options: ResolvedOptions;
  readonly #table: PendingRequests;
  readonly #credentials: Credentials;
  readonly #events: ConnectionEvents;
  readonly #heartbeat: HeartbeatProbe;
  #state: ConnectionState = "idle";
  /** The current socket (being opened, re-authenticating, or open); null between attempts and once closed. */
  #socket: ClientSocket | null = null;
  /** Number of the current (or last) socket; a request remembers the one it went out on. */
  #socketNumber = 0;
  /** Open and (re-)authenticated: requests go out at once instead of waiting in the queue. */
  #ready = false;
  /** Consecutive failed attempts (0 once a connection opens). */
  #failures = 0;
  #connectTimer: Timer | undefined;
  /** The backoff before the next attempt. */
  #retryTimer: Timer | undefined;
  /** connect() calls waiting for the state to be open. */
  #waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  /** close()'s promise, once it has been called. */
  #closing: Promise<void> | undefined;

  constructor(urls: readonly string[], WebSocketClass: WebSocketConstructor, options: ResolvedOptions, table: PendingRequests, credentials: Credentials, events: ConnectionEvents) {
    this.#urls = urls;
    this.#url = urls[0];
    this.#WebSocket = WebSocketClass;
    this.#options = options;
    this.#table = table;
    this.#credentials = credentials;
    this.#events = events;
    this.#heartbeat = new HeartbeatProbe(options.heartbeatIntervalMs, options.heartbeatTimeoutMs, {
      serves: (socketNumber) => socketNumber === this.#socketNumber && this.#ready,
      heartbeat: (timeoutMs) => this.#directCall("heartbeat", { worker_id: options.workerId }, timeoutMs, "The heartbeat"),
      dead: (error) => this.#ended(error),
    });
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The URL of the current (or last) attempt. */
  get url(): string {
    return this.#url;
  }

  /** Whether a lost socket is followed by another. */
  get reconnects(): boolean {
    return this.#state !== "closed" && this.#options.reconnect !== false;
  }

  /** Starts the first attempt, unless one has started (or the client closed). */
  startIfIdle(): void {
    if (this.#state === "idle") this.#attempt();
  }

  /** Resolves once open (connecting if idle); rejects with ConnectionLostError if it closes first. */
  connect(): Promise<void> {
    if (this.#state === "closed") return Promise.reject(new ConnectionLostError("The client is closed.", { reason: "closed" }));
    if (this.#state === "open") return Promise.resolve();
    const ready = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#state === "idle") this.#attempt();
    return ready;
  }

  /** Closes for good (everything pending fails); resolves when the socket has closed. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    const socket = this.#socket;
    this.#socket = null;
    this.#shutdown(new ConnectionLostError("The client was closed.", { reason: "closed" }));
    this.#closing = socket ? socket.closeGracefully() : Promise.resolve();
    return this.#closing;
  }

  /** Sends now when ready, queues otherwise (and starts connecting when idle). */
  submit(request: PendingRequest): void {
    if (this.#state === "closed") {
      request.fail(new ConnectionLostError("The client is closed.", { reason: "closed" }));
      return;
    }
    if (this.#ready) {
      this.#transmit(request);
      return;
    }
    this.#table.enqueue(request);
    if (this.#state === "idle") this.#attempt();
  }

  cancelOnNode(request: PendingRequest): void {
    if (request.socketNumber !== 0 && request.socketNumber === this.#socketNumber && this.#ready) {
      this.#directCall("inference_cancel", { target_message_id: request.key }, 0, "inference_cancel").catch(noop);
    }
  }

  /** Onto the current socket, whether ready or not. */
  #transmit(request: PendingRequest): void {
    const socket = this.#socket;
    if (!socket) {
      request.fail(new ConnectionLostError("The connection is gone.", { reason: "dropped" }));
      return;
    }
    let text: string;
    try {
      text = JSON.stringify(request.frame);
    } catch (error) {
      request.fail(error);
      return;
    }
    this.#table.sent(request, this.#socketNumber);
    socket.send(text);
  }

  /** A request of the connection's own (re-authentication, heartbeat, inference_cancel): straight onto the socket, skipping the queue. */
  #directCall<T>(type: string, payload: Record<string, unknown>, timeoutMs: number, operation: string): Promise<Reply<T>> {
    return startCall<T>({ type, payload, licenseHash: this.#options.licenseHash }, { operation, timeoutMs }, this.#table, (request) => this.#transmit(request));
  }

  #setState(state: ConnectionState, init: StateEventInit = {}): void {
    this.#state = state;
    this.#events.stateChanged(state, init);
  }

  #attempt(): void {
    this.#retryTimer = undefined;
    if (this.#state === "closed") return;
    const number = ++this.#socketNumber;
    this.#url = this.#urls[(number - 1) % this.#urls.length]; // round robin
    if (this.#state === "idle") {
      this.#setState("connecting");
      if (this.state === "closed") return; // a listener closed the client
    }
    let socket: ClientSocket;
    try {
      socket = new ClientSocket(this.#WebSocket, this.#url, {
        opened: (opened) => {
          if (this.#socket === opened) void this.#opened(opened, number);
        },
        message: (from, data) => {
          if (this.#socket === from) this.#received(data);
        },
        lost: (lost, error) => {
          if (this.#socket === lost) this.#ended(error);
        },
      });
    } catch (error) {
      // A malformed URL, say: no retry can help.
      this.#shutdown(new ConnectionLostError(`Cannot connect to ${this.#url}: ${describe(error)}`, { reason: "gave_up" }));
      return;
    }
    this.#socket = socket;
    const connectTimeoutMs = this.#options.connectTimeoutMs;
    if (connectTimeoutMs > 0) {
      this.#connectTimer = setTimeout(() => {
        if (this.#socket !== socket || socket.opened) return;
        this.#ended(new ConnectionLostError(`Connecting to ${this.#url} timed out after ${connectTimeoutMs} ms.`, { reason: "dropped" }));
      }, connectTimeoutMs);
    }
  }

  /** Socket `number` is open: authenticate again when a key is held, then serve the queue. */
  async #opened(socket: ClientSocket, number: number): Promise<void> {
    clearTimeout(this.#connectTimer);
    const credentials = this.#credentials;
    const key = credentials.key;
    if (key !== undefined) {
      try {
        const timeoutMs = this.#options.connectTimeoutMs;
        const reply = await this.#directCall<AuthenticationResponse>("authentication", { license_key: key }, timeoutMs, "Re-authentication");
        if (reply.authenticated) {
          credentials.hash = reply.license_hash;
        } else {
          if (credentials.key === key) credentials.key = undefined;
          this.#events.error(new AuthenticationError(`Re-authentication failed: ${reply.message}`, reply.attempts_remaining));
        }
      } catch (error) {
        if (this.#socket !== socket || number !== this.#socketNumber) return; // it dropped meanwhile
        if (error instanceof TimeoutError) {
          this.#ended(new ConnectionLostError("The node did not answer the re-authentication.", { reason: "heartbeat_timeout" }));
          return;
        }
        // An error frame (RATE_LIMITED, say): report it; the requests will meet the refusal themselves.
        this.#events.error(error instanceof ModelNodeError ? error : new ModelNodeError("INTERNAL_ERROR", describe(error)));
      }
      if (this.#socket !== socket || number !== this.#socketNumber || this.#state === "closed") return;
    }
    this.#ready = true;
    this.#failures = 0;
    this.#state = "open";
    for (const request of this.#table.takeQueued()) this.#transmit(request);
    this.#heartbeat.schedule(number);
    this.#setState("open");
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  #received(data: unknown): void {
    const text = frameText(data);
    if (text === undefined) return;
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      this.#events.error(new ModelNodeError("INVALID_JSON", "The node sent a frame that is not JSON."));
      return;
    }
    if (frame === null || typeof frame !== "object" || Array.isArray(frame)) return;
    const uncorrelated = this.#table.deliver(frame);
    if (uncorrelated) this.#events.error(uncorrelated);
  }

  /** The current socket (or attempt) is over: fail what was in flight on it, then retry or close. */
  #ended(error: ConnectionLostError): void {
    this.#socket?.abandon();
    this.#socket = null;
    this.#ready = false;
    clearTimeout(this.#connectTimer);
    this.#heartbeat.stop();
    this.#table.failInFlight(error);
    if (this.#state === "closed") return;
    if (error.details.reason === "policy" || this.#options.reconnect === false) {
      this.#shutdown(error);
      return;
    }
    const policy = this.#options.reconnect;
    if (this.#failures >= policy.maxAttempts) {
      const attempts = this.#failures;
      const to = this.#urls.length > 1 ? `any of ${this.#urls.join(", ")}` : this.#url;
      this.#shutdown(new ConnectionLostError(`Gave up reconnecting to ${to} after ${attempts} attempts: ${error.message}`, { ...error.details, reason: "gave_up" }));
      return;
    }
    const delayMs = backoffDelay(this.#failures, policy);
    this.#failures++;
    this.#setState("reconnecting", { attempt: this.#failures, delayMs, error });
    if (this.state !== "reconnecting") return; // a listener closed the client
    this.#retryTimer = setTimeout(() => this.#attempt(), delayMs);
  }

  /** For good: state "closed", everything pending fails with `error`. */
  #shutdown(error: ConnectionLostError): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#ready = false;
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#retryTimer);
    this.#heartbeat.stop();
    if (this.#socket) {
      this.#socket.abandon();
      this.#socket = null;
    }
    const queued = this.#table.takeQueued();
    this.#table.failInFlight(error);
    for (const request of queued) request.fail(error);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
    this.#setState("closed", { error });
  }
}
