/**
 * ModelNodeClient: one WebSocket to a node, with requests correlated by message_id (legacy
 * steps by session_id and step), a heartbeat probe, reconnects with backoff, and
 * re-authentication before queued requests go out. Browser-safe: no Node module, no bare
 * import; the WebSocket class is injected (or the global one).
 *
 * This is the public face only; the work is done by:
 * - Connection (connection.ts): the lifecycle state machine: attempts, connect timeout,
 *   re-authentication, backoff, heartbeat probe (heartbeat.ts), close;
 * - ClientSocket (socket.ts): the injected WebSocket itself;
 * - PendingRequests (pending-requests.ts): the queue and the requests in flight, replies routed to them;
 * - the requests (requests.ts: awaited calls and legacy steps; generation-request.ts: generations).
 */
import { Connection } from "./connection.js";
import { Credentials } from "./credentials.js";
import { AuthenticationError } from "./errors.js";
import { ClientErrorEvent, StateEvent, type ClientEventMap } from "./events.js";
import { Generation } from "./generation.js";
import { GenerationRequest } from "./generation-request.js";
import { randomId } from "./ids.js";
import { resolveOptions, type ResolvedOptions } from "./options.js";
import { PendingRequests } from "./pending-requests.js";
import { startCall, startLegacyStep } from "./requests.js";
import { LegacySession, type LegacyTransport } from "./session.js";
import type {
  AuthenticationResponse,
  CallOptions,
  ClientOptions,
  ConnectionState,
  GenerateOptions,
  HeartbeatAck,
  LegacyOutput,
  ListModelsResponse,
  ModelInfo,
  Reply,
  WebSocketConstructor,
} from "./types.js";

export { CLIENT_DEFAULTS } from "./options.js";
export { PROTOCOL_VERSION } from "./requests.js";

export class ModelNodeClient extends EventTarget implements LegacyTransport {
  /** The nodes' URLs, as given (one, or several serving the same models: tried round robin). */
  readonly urls: readonly string[];
  readonly #options: ResolvedOptions;
  readonly #credentials: Credentials;
  readonly #requests = new PendingRequests();
  readonly #connection: Connection;

  /**
   * `url`: the node's URL (`ws://host:8702` or `wss://…`), or several nodes' (gateways of one
   * cluster, or nodes serving the same models): each connection attempt takes the next one, round
   * robin, and a streamed generation that loses its connection resumes on the next.
   */
  constructor(url: string | URL | readonly (string | URL)[], options: ClientOptions = {}) {
    super();
    this.urls = Object.freeze((Array.isArray(url) ? url : [url]).map(String));
    if (this.urls.length === 0) throw new TypeError("No URL: give the node's URL, or a list of at least one.");
    const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof WebSocketClass !== "function") {
      throw new TypeError(
        "No WebSocket implementation: pass { WebSocket } (e.g. the `ws` package's) or, in Node, use ModelNodeClient from @modelnode/client/node.",
      );
    }
    this.#options = resolveOptions(options);
    this.#credentials = new Credentials(options.licenseKey || undefined);
    this.#connection = new Connection(this.urls, WebSocketClass, this.#options, this.#requests, this.#credentials, {
      stateChanged: (state, init) => {
        this.dispatchEvent(new StateEvent("statechange", state, init));
        this.dispatchEvent(new StateEvent(state, state, init));
      },
      error: (error) => this.dispatchEvent(new ClientErrorEvent(error)),
    });
    if (this.#options.autoConnect) queueMicrotask(() => this.#connection.startIfIdle());
  }

  // ---------------------------------------------------------------- state and events

  /** The URL of the current connection (or of the attempt under way, or of the last one). */
  get url(): string {
    return this.#connection.url;
  }

  /** "idle" (not connected yet), "connecting", "open", "reconnecting" or "closed" (for good). */
  get state(): ConnectionState {
    return this.#connection.state;
  }

  /** The license_hash of the last successful authentication (the client re-authenticates with the key, not with this). */
  get licenseHash(): string | undefined {
    return this.#credentials.hash;
  }

  /** Requests waiting for a connection, and requests sent whose final reply has not come. */
  get pending(): { queued: number; inFlight: number } {
    return { queued: this.#requests.queued, inFlight: this.#requests.inFlight };
  }

  /** addEventListener with the event's type; returns the function that removes the listener. */
  on<K extends keyof ClientEventMap>(type: K, listener: (event: ClientEventMap[K]) => void): () => void {
    const wrapped = (event: Event) => listener(event as ClientEventMap[K]);
    this.addEventListener(type, wrapped);
    return () => this.removeEventListener(type, wrapped);
  }

  /**
   * Resolves once the client is open (and re-authenticated, when it holds a key); connects if
   * it has not yet. Rejects with ConnectionLostError if the client closes first (close(), or
   * it gave up reconnecting). Calls need not wait for this: they queue until the client is open.
   */
  connect(): Promise<void> {
    return this.#connection.connect();
  }

  /**
   * Closes for good: every request queued or in flight fails with ConnectionLostError
   * (generations already being cancelled end as "cancelled"), no reconnect follows. Resolves
   * when the socket has closed.
   */
  close(): Promise<void> {
    return this.#connection.close();
  }

  // ---------------------------------------------------------------- calls

  /**
   * An inference_request: a prompt or a chat (`messages`), with the protocol's sampling fields.
   * The returned Generation is an async iterable of the text pieces and a thenable of the
   * final { text, finishReason, usage, model }. Errors of the node reject it (and end the
   * iteration) with a ModelNodeError. A streamed generation survives a drop (unless `resumable`
   * is false): it resumes on the next connection, each piece still seen once and in order; a
   * drop fails the others with ConnectionLostError, and a resumable one when the client closes.
   */
  generate(options: GenerateOptions): Generation {
    const id = randomId();
    const defaults = { model: this.#options.model, licenseHash: this.#options.licenseHash, resumable: this.#options.resumable };
    return new Generation(id, (sink) => new GenerationRequest(id, options, defaults, sink, this.#requests, this.#connection).start());
  }

  /** list_models: the node's models. */
  async listModels(options: CallOptions = {}): Promise<ModelInfo[]> {
    const reply = await this.#call<ListModelsResponse>("list_models", {}, options, "list_models");
    return reply.models;
  }

  /** heartbeat: the node's id, status, uptime, load and models. */
  heartbeat(workerId: string = this.#options.workerId, options: CallOptions = {}): Promise<Reply<HeartbeatAck>> {
    return this.#call<HeartbeatAck>("heartbeat", { worker_id: workerId }, options, "heartbeat");
  }

  /**
   * authentication: on success the key is kept (in memory only) and sent again on every new
   * connection, before any queued request goes out. A wrong key throws AuthenticationError
   * (code AUTHENTICATION_FAILED, details.attempts_remaining) and forgets the key kept before.
   */
  async authenticate(licenseKey: string, options: CallOptions = {}): Promise<{ authenticated: true; license_hash: string }> {
    const reply = await this.#call<AuthenticationResponse>("authentication", { license_key: licenseKey }, options, "authentication");
    if (!reply.authenticated) {
      this.#credentials.key = undefined;
      throw new AuthenticationError(reply.message, reply.attempts_remaining);
    }
    this.#credentials.key = licenseKey;
    this.#credentials.hash = reply.license_hash;
    return { authenticated: true, license_hash: reply.license_hash };
  }

  /** A legacy step session (session_id: a new UUID unless given). */
  session(sessionId: string = randomId(), options: { model?: string } = {}): LegacySession {
    return new LegacySession(this, sessionId, options.model ?? this.#options.model);
  }

  /**
   * Any standard message type (a plugin's own, say): resolves with the final reply frame
   * (payload and header); an `error` frame rejects with ModelNodeError. Streamed replies are
   * not supported here (the first frame is taken as the reply).
   */
  request<T = Record<string, unknown>>(messageType: string, payload: Record<string, unknown> = {}, options: CallOptions = {}): Promise<Reply<T>> {
    return this.#call<T>(messageType, payload, options, messageType);
  }

  /**
   * One raw legacy message (`{session_id, step, input_tensors, model_id?}`): resolves with its
   * output_tensors, rejects with the legacy error as ModelNodeError. LegacySession uses this.
   */
  legacyStep(message: Record<string, unknown>, options: CallOptions = {}): Promise<LegacyOutput> {
    const deadline = { operation: "A legacy step", timeoutMs: options.timeoutMs ?? this.#options.requestTimeoutMs, signal: options.signal };
    return startLegacyStep(message, deadline, this.#requests, (request) => this.#connection.submit(request));
  }

  /** A standard request with one final reply, queued until the connection is ready. */
  #call<T>(type: string, payload: Record<string, unknown>, options: CallOptions, operation: string): Promise<Reply<T>> {
    const deadline = { operation, timeoutMs: options.timeoutMs ?? this.#options.requestTimeoutMs, signal: options.signal };
    return startCall<T>({ type, payload, licenseHash: this.#options.licenseHash }, deadline, this.#requests, (request) => this.#connection.submit(request));
  }
}
