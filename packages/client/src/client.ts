/**
 * ModelNodeClient: one WebSocket to a node, with requests correlated by message_id (legacy
 * steps by session_id and step), a heartbeat probe, reconnects with backoff, and
 * re-authentication before queued requests go out. Browser-safe: no Node module, no bare
 * import; the WebSocket class is injected (or the global one).
 */
import { backoffDelay } from "./backoff.js";
import {
  AuthenticationError,
  ConnectionLostError,
  fromErrorFrame,
  fromLegacyError,
  ModelNodeError,
  TimeoutError,
  type ConnectionLostDetails,
} from "./errors.js";
import { ClientErrorEvent, StateEvent, type ClientEventMap, type StateEventInit } from "./events.js";
import { Generation, type GenerationControl, type GenerationSink } from "./generation.js";
import { randomId } from "./ids.js";
import { LegacySession, type LegacyTransport } from "./session.js";
import type {
  AuthenticationResponse,
  CallOptions,
  ClientOptions,
  ConnectionState,
  FrameHeader,
  GenerateOptions,
  GenerationResult,
  HeartbeatAck,
  LegacyOutput,
  LegacyStepReply,
  ListModelsResponse,
  ModelInfo,
  Reply,
  WebSocketConstructor,
  WebSocketLike,
} from "./types.js";

/** The protocol version the client speaks. */
export const PROTOCOL_VERSION = "2.0";

/** Every option's default. */
export const CLIENT_DEFAULTS = {
  autoConnect: true,
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  heartbeatIntervalMs: 15_000,
  heartbeatTimeoutMs: 10_000,
  workerId: "modelnode-client",
  reconnect: { initialDelayMs: 500, maxDelayMs: 15_000, maxAttempts: Infinity },
} as const;

const SAMPLING_FIELDS = ["max_tokens", "temperature", "top_p", "top_k", "seed", "stop"] as const;
const WS_OPEN = 1;
const WS_CLOSED = 3;
/** How long close() waits for the closing handshake before it drops the socket. */
const CLOSE_GRACE_MS = 2_000;

const noop = () => {};

type Timer = ReturnType<typeof setTimeout>;

/** A request on its way: queued (connection 0) or in flight on connection n. */
interface Outgoing {
  key: string;
  legacy: boolean;
  frame: Record<string, unknown>;
  connection: number;
  /** Every frame correlated with it (a streamed request gets several). */
  reply(frame: any): void;
  /** It will get no reply: the connection dropped, the client closed, or it could not be sent. */
  fail(error: unknown): void;
}

interface ResolvedOptions {
  model: string | undefined;
  autoConnect: boolean;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  workerId: string;
  reconnect: { initialDelayMs: number; maxDelayMs: number; maxAttempts: number } | false;
  licenseHash: string | undefined;
}

const legacyKey = (sessionId: unknown, step: unknown) => `${String(sessionId)}\u0000${String(step)}`;

function describe(error: unknown): string {
  if (error && typeof error === "object") {
    const e = error as { message?: unknown; error?: { message?: unknown } };
    if (typeof e.message === "string" && e.message) return e.message;
    if (e.error && typeof e.error.message === "string") return e.error.message;
  }
  return "";
}

function abortReason(signal: AbortSignal): unknown {
  if (signal.reason !== undefined) return signal.reason;
  const error = new Error("The operation was aborted.");
  error.name = "AbortError";
  return error;
}

export class ModelNodeClient extends EventTarget implements LegacyTransport {
  /** The node's URL (`ws://host:8702` or `wss://…`). */
  readonly url: string;
  readonly #options: ResolvedOptions;
  readonly #WebSocket: WebSocketConstructor;
  #state: ConnectionState = "idle";
  #socket: WebSocketLike | null = null;
  /** Number of the current (or last) socket; a request remembers the one it went out on. */
  #connection = 0;
  /** Open and (re-)authenticated: requests go out at once instead of waiting in the queue. */
  #ready = false;
  #queue: Outgoing[] = [];
  readonly #inFlight = new Map<string, Outgoing>();
  readonly #legacyInFlight = new Map<string, Outgoing>();
  /** Consecutive failed attempts (0 once a connection opens). */
  #failures = 0;
  #everOpened = false;
  #connectTimer: Timer | undefined;
  #retryTimer: Timer | undefined;
  #heartbeatTimer: Timer | undefined;
  #licenseKey: string | undefined;
  #licenseHash: string | undefined;
  #waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  #closing: Promise<void> | undefined;

  constructor(url: string | URL, options: ClientOptions = {}) {
    super();
    this.url = String(url);
    const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof WebSocketClass !== "function") {
      throw new TypeError(
        "No WebSocket implementation: pass { WebSocket } (e.g. the `ws` package's) or, in Node, use ModelNodeClient from @modelnode/client/node.",
      );
    }
    this.#WebSocket = WebSocketClass;
    const reconnect = options.reconnect === false ? false : { ...CLIENT_DEFAULTS.reconnect, ...options.reconnect };
    this.#options = {
      model: options.model,
      autoConnect: options.autoConnect ?? CLIENT_DEFAULTS.autoConnect,
      connectTimeoutMs: options.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs ?? CLIENT_DEFAULTS.requestTimeoutMs,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? CLIENT_DEFAULTS.heartbeatIntervalMs,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? CLIENT_DEFAULTS.heartbeatTimeoutMs,
      workerId: options.workerId ?? CLIENT_DEFAULTS.workerId,
      reconnect,
      licenseHash: options.licenseHash || undefined,
    };
    this.#licenseKey = options.licenseKey || undefined;
    if (this.#options.autoConnect) {
      queueMicrotask(() => {
        if (this.#state === "idle") this.#attempt();
      });
    }
  }

  // ---------------------------------------------------------------- state and events

  /** "idle" (not connected yet), "connecting", "open", "reconnecting" or "closed" (for good). */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The license_hash of the last successful authentication (the client re-authenticates with the key, not with this). */
  get licenseHash(): string | undefined {
    return this.#licenseHash;
  }

  /** Requests waiting for a connection, and requests sent whose final reply has not come. */
  get pending(): { queued: number; inFlight: number } {
    return { queued: this.#queue.length, inFlight: this.#inFlight.size + this.#legacyInFlight.size };
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
    if (this.#state === "closed") return Promise.reject(new ConnectionLostError("The client is closed.", { reason: "closed" }));
    if (this.#state === "open") return Promise.resolve();
    const ready = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#state === "idle") this.#attempt();
    return ready;
  }

  /**
   * Closes for good: every request queued or in flight fails with ConnectionLostError
   * (generations already being cancelled end as "cancelled"), no reconnect follows. Resolves
   * when the socket has closed.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    const socket = this.#socket;
    this.#socket = null;
    this.#shutdown(new ConnectionLostError("The client was closed.", { reason: "closed" }));
    this.#closing = socket ? closeGracefully(socket) : Promise.resolve();
    return this.#closing;
  }

  // ---------------------------------------------------------------- calls

  /**
   * An inference_request: a prompt or a chat (`messages`), with the protocol's sampling fields.
   * The returned Generation is an async iterable of the text pieces and a thenable of the
   * final { text, finishReason, usage, model }. Errors of the node reject it (and end the
   * iteration) with a ModelNodeError; a drop with ConnectionLostError.
   */
  generate(options: GenerateOptions): Generation {
    const id = randomId();
    return new Generation(id, (sink) => this.#startGeneration(id, options, sink));
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
      this.#licenseKey = undefined;
      throw new AuthenticationError(reply.message, reply.attempts_remaining);
    }
    this.#licenseKey = licenseKey;
    this.#licenseHash = reply.license_hash;
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
    return new Promise<LegacyOutput>((resolve, reject) => {
      const key = legacyKey(message.session_id, message.step);
      if (this.#legacyInFlight.has(key) || this.#queue.some((o) => o.legacy && o.key === key)) {
        reject(
          new ModelNodeError("SESSION_BUSY", `Step ${String(message.step)} of session ${String(message.session_id)} is already on its way.`, {
            session_id: message.session_id,
            running_step: message.step,
          }),
        );
        return;
      }
      const settle = this.#settler(options, "A legacy step", reject);
      const outgoing: Outgoing = {
        key,
        legacy: true,
        frame: message,
        connection: 0,
        reply: (frame: LegacyStepReply & { error?: { code: string; message: string; details?: unknown } }) => {
          settle.finish(outgoing);
          if (frame.error) reject(fromLegacyError(frame as { error: NonNullable<typeof frame.error> }));
          else resolve(frame.output_tensors);
        },
        fail: (error) => {
          settle.finish(outgoing);
          reject(error);
        },
      };
      if (settle.start(outgoing)) this.#submit(outgoing);
    });
  }

  // ---------------------------------------------------------------- requests

  #header(type: string, id: string): FrameHeader {
    const header: FrameHeader = {
      message_id: id,
      message_type: type,
      protocol_version: PROTOCOL_VERSION,
      timestamp: new Date().toISOString(),
    };
    if (this.#options.licenseHash !== undefined) header.license_hash = this.#options.licenseHash;
    return header;
  }

  /** Timeout and abort for a call that rejects: `start` arms them (false: already aborted), `finish` disarms and forgets. */
  #settler(options: CallOptions, operation: string, reject: (error: unknown) => void) {
    const signal = options.signal;
    const timeoutMs = options.timeoutMs ?? this.#options.requestTimeoutMs;
    let timer: Timer | undefined;
    let outgoing: Outgoing | undefined;
    const onAbort = () => {
      if (outgoing) finish(outgoing);
      reject(abortReason(signal!));
    };
    const finish = (o: Outgoing) => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      this.#forget(o);
    };
    const start = (o: Outgoing): boolean => {
      outgoing = o;
      if (signal?.aborted) {
        reject(abortReason(signal));
        return false;
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          finish(o);
          reject(new TimeoutError(operation, timeoutMs));
        }, timeoutMs);
      }
      return true;
    };
    return { start, finish };
  }

  /** A standard request with one final reply. `direct`: straight onto the current socket, skipping the queue (internal messages). */
  #call<T>(type: string, payload: Record<string, unknown>, options: CallOptions & { direct?: boolean }, operation: string): Promise<Reply<T>> {
    return new Promise<Reply<T>>((resolve, reject) => {
      const id = randomId();
      const settle = this.#settler(options, operation, reject);
      const outgoing: Outgoing = {
        key: id,
        legacy: false,
        frame: { ...payload, header: this.#header(type, id) },
        connection: 0,
        reply: (frame: Reply<T>) => {
          settle.finish(outgoing);
          if (frame.header.message_type === "error") reject(fromErrorFrame(frame));
          else resolve(frame);
        },
        fail: (error) => {
          settle.finish(outgoing);
          reject(error);
        },
      };
      if (!settle.start(outgoing)) return;
      if (options.direct) this.#transmit(outgoing);
      else this.#submit(outgoing);
    });
  }

  #startGeneration(id: string, options: GenerateOptions, sink: GenerationSink): GenerationControl {
    const model = options.model ?? this.#options.model;
    const stream = options.stream ?? true;
    const payload: Record<string, unknown> = {};
    if (model !== undefined) payload.model_id = model;
    if (options.prompt !== undefined) payload.prompt = options.prompt;
    if (options.messages !== undefined) payload.messages = options.messages;
    for (const field of SAMPLING_FIELDS) if (options[field] !== undefined) payload[field] = options[field];
    payload.stream = stream;

    const { signal, timeoutMs } = options;
    let ended = false;
    let cancelRequested = false;
    let timer: Timer | undefined;
    const cancelledResult = (): GenerationResult => ({
      text: sink.text,
      finishReason: "cancelled",
      usage: { prompt_tokens: 0, completion_tokens: 0 },
      model: model ?? "",
    });
    const finish = () => {
      ended = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", cancel);
      this.#forget(outgoing);
    };
    const cancelOnNode = () => {
      if (outgoing.connection !== 0 && outgoing.connection === this.#connection && this.#ready) {
        this.#call("inference_cancel", { target_message_id: id }, { direct: true, timeoutMs: 0 }, "inference_cancel").catch(noop);
      }
    };
    function cancel() {
      if (ended || cancelRequested) return;
      cancelRequested = true;
      if (outgoing.connection === 0) {
        // Still in the queue: it never reaches the node.
        finish();
        sink.done(cancelledResult());
        return;
      }
      // The node answers with its inference_response, finish_reason "cancelled".
      cancelOnNode();
    }
    const outgoing: Outgoing = {
      key: id,
      legacy: false,
      frame: { ...payload, header: this.#header("inference_request", id) },
      connection: 0,
      reply: (frame: any) => {
        const type = frame.header.message_type;
        if (type === "inference_chunk") {
          if (typeof frame.text === "string" && frame.text !== "") sink.piece(frame.text);
          return;
        }
        finish();
        if (type === "inference_response") {
          if (!stream && typeof frame.text === "string" && frame.text !== "") sink.piece(frame.text);
          sink.done({ text: frame.text, finishReason: frame.finish_reason, usage: frame.usage, model: frame.model_id });
        } else if (type === "error") {
          sink.fail(fromErrorFrame(frame));
        } else {
          sink.fail(new ModelNodeError("INTERNAL_ERROR", `Unexpected reply "${String(type)}" to an inference_request.`));
        }
      },
      fail: (error) => {
        finish();
        // The caller asked to stop: a drop before the node confirmed it is still a cancellation.
        if (cancelRequested && error instanceof ConnectionLostError) sink.done(cancelledResult());
        else sink.fail(error);
      },
    };
    if (signal?.aborted) {
      ended = true;
      sink.done(cancelledResult());
      return { cancel: noop };
    }
    signal?.addEventListener("abort", cancel, { once: true });
    if (timeoutMs !== undefined && timeoutMs > 0) {
      timer = setTimeout(() => {
        cancelOnNode();
        finish();
        sink.fail(new TimeoutError("The generation", timeoutMs));
      }, timeoutMs);
    }
    this.#submit(outgoing);
    return { cancel };
  }

  /** Sends now when open, queues otherwise (and starts connecting when idle). */
  #submit(outgoing: Outgoing): void {
    if (this.#state === "closed") {
      outgoing.fail(new ConnectionLostError("The client is closed.", { reason: "closed" }));
      return;
    }
    if (this.#ready) {
      this.#transmit(outgoing);
      return;
    }
    this.#queue.push(outgoing);
    if (this.#state === "idle") this.#attempt();
  }

  #transmit(outgoing: Outgoing): void {
    const socket = this.#socket;
    if (!socket) {
      outgoing.fail(new ConnectionLostError("The connection is gone.", { reason: "dropped" }));
      return;
    }
    let text: string;
    try {
      text = JSON.stringify(outgoing.frame);
    } catch (error) {
      outgoing.fail(error);
      return;
    }
    outgoing.connection = this.#connection;
    (outgoing.legacy ? this.#legacyInFlight : this.#inFlight).set(outgoing.key, outgoing);
    try {
      socket.send(text);
    } catch {
      // The socket is closing: its close event fails every request in flight, this one too.
    }
  }

  #forget(outgoing: Outgoing): void {
    const map = outgoing.legacy ? this.#legacyInFlight : this.#inFlight;
    if (map.get(outgoing.key) === outgoing) map.delete(outgoing.key);
    const queued = this.#queue.indexOf(outgoing);
    if (queued >= 0) this.#queue.splice(queued, 1);
  }

  #onMessage(data: unknown): void {
    let text: string;
    if (typeof data === "string") text = data;
    else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) text = new TextDecoder().decode(data as ArrayBuffer);
    else return;
    let frame: any;
    try {
      frame = JSON.parse(text);
    } catch {
      this.#emitError(new ModelNodeError("INVALID_JSON", "The node sent a frame that is not JSON."));
      return;
    }
    if (frame === null || typeof frame !== "object" || Array.isArray(frame)) return;
    const header = frame.header;
    if (header !== null && typeof header === "object" && !Array.isArray(header)) {
      const id = header.correlation_id;
      const outgoing = typeof id === "string" ? this.#inFlight.get(id) : undefined;
      if (outgoing) outgoing.reply(frame);
      else if (header.message_type === "error" && (id === null || id === undefined)) this.#emitError(fromErrorFrame(frame));
      return;
    }
    if ("session_id" in frame) {
      const outgoing = this.#legacyInFlight.get(legacyKey(frame.session_id, frame.step));
      if (outgoing) outgoing.reply(frame);
      else if (frame.error && typeof frame.error === "object") this.#emitError(fromLegacyError(frame));
    }
  }

  // ---------------------------------------------------------------- connection

  #setState(state: ConnectionState, init: StateEventInit = {}): void {
    this.#state = state;
    this.dispatchEvent(new StateEvent("statechange", state, init));
    this.dispatchEvent(new StateEvent(state, state, init));
  }

  #emitError(error: ModelNodeError): void {
    this.dispatchEvent(new ClientErrorEvent(error));
  }

  #attempt(): void {
    this.#retryTimer = undefined;
    if (this.#state === "closed") return;
    const number = ++this.#connection;
    if (this.#state === "idle") {
      this.#setState("connecting");
      if (this.state === "closed") return; // a listener closed the client
    }
    let socket: WebSocketLike;
    try {
      socket = new this.#WebSocket(this.url);
    } catch (error) {
      // A malformed URL, say: no retry can help.
      this.#shutdown(new ConnectionLostError(`Cannot connect to ${this.url}: ${describe(error)}`, { reason: "gave_up" }));
      return;
    }
    this.#socket = socket;
    try {
      socket.binaryType = "arraybuffer";
    } catch {
      // not settable: binary frames are not expected anyway
    }
    let opened = false;
    let lastError = "";
    socket.onopen = () => {
      if (this.#socket !== socket) return;
      opened = true;
      clearTimeout(this.#connectTimer);
      void this.#onOpen(socket, number);
    };
    socket.onmessage = (event: { data: unknown }) => {
      if (this.#socket === socket) this.#onMessage(event.data);
    };
    socket.onerror = (event: unknown) => {
      lastError = describe(event) || lastError;
    };
    socket.onclose = (event: { code?: number; reason?: string }) => {
      if (this.#socket !== socket) return;
      const code = typeof event?.code === "number" ? event.code : undefined;
      if (!opened) {
        const why = lastError ? `: ${lastError}` : "";
        this.#ended(new ConnectionLostError(`Could not connect to ${this.url}${why}.`, { reason: "dropped", close_code: code }));
        return;
      }
      const reason: ConnectionLostDetails["reason"] = code === 1008 ? "policy" : "dropped";
      const said = event?.reason ? ` (${event.reason})` : "";
      this.#ended(new ConnectionLostError(`The connection to ${this.url} closed with code ${code ?? "none"}${said}.`, { reason, close_code: code }));
    };
    const connectTimeoutMs = this.#options.connectTimeoutMs;
    if (connectTimeoutMs > 0) {
      this.#connectTimer = setTimeout(() => {
        if (this.#socket !== socket || opened) return;
        this.#ended(new ConnectionLostError(`Connecting to ${this.url} timed out after ${connectTimeoutMs} ms.`, { reason: "dropped" }));
      }, connectTimeoutMs);
    }
  }

  /** The socket is open: authenticate again when a key is held, then serve the queue. */
  async #onOpen(socket: WebSocketLike, number: number): Promise<void> {
    const key = this.#licenseKey;
    if (key !== undefined) {
      try {
        const timeoutMs = this.#options.connectTimeoutMs;
        const reply = await this.#call<AuthenticationResponse>("authentication", { license_key: key }, { direct: true, timeoutMs }, "Re-authentication");
        if (reply.authenticated) {
          this.#licenseHash = reply.license_hash;
        } else {
          if (this.#licenseKey === key) this.#licenseKey = undefined;
          this.#emitError(new AuthenticationError(`Re-authentication failed: ${reply.message}`, reply.attempts_remaining));
        }
      } catch (error) {
        if (this.#socket !== socket || number !== this.#connection) return; // it dropped meanwhile
        if (error instanceof TimeoutError) {
          this.#ended(new ConnectionLostError("The node did not answer the re-authentication.", { reason: "heartbeat_timeout" }));
          return;
        }
        // An error frame (RATE_LIMITED, say): report it; the requests will meet the refusal themselves.
        this.#emitError(error instanceof ModelNodeError ? error : new ModelNodeError("INTERNAL_ERROR", describe(error)));
      }
      if (this.#socket !== socket || number !== this.#connection || this.#state === "closed") return;
    }
    this.#ready = true;
    this.#failures = 0;
    this.#everOpened = true;
    this.#state = "open";
    const queue = this.#queue;
    this.#queue = [];
    for (const outgoing of queue) this.#transmit(outgoing);
    this.#scheduleHeartbeat(number);
    this.#setState("open");
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  #scheduleHeartbeat(number: number): void {
    const interval = this.#options.heartbeatIntervalMs;
    if (!(interval > 0)) return;
    clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = setTimeout(() => this.#probe(number), interval);
  }

  /** A heartbeat whose answer (an ack, or even an error frame) proves the connection alive. */
  #probe(number: number): void {
    if (number !== this.#connection || !this.#ready) return;
    const timeoutMs = this.#options.heartbeatTimeoutMs;
    const alive = () => {
      if (number === this.#connection && this.#ready) this.#scheduleHeartbeat(number);
    };
    this.#call("heartbeat", { worker_id: this.#options.workerId }, { direct: true, timeoutMs }, "The heartbeat").then(alive, (error) => {
      if (error instanceof TimeoutError) {
        if (number === this.#connection && this.#ready) {
          this.#ended(new ConnectionLostError(`The node did not answer a heartbeat within ${timeoutMs} ms.`, { reason: "heartbeat_timeout" }));
        }
      } else if (!(error instanceof ConnectionLostError)) {
        alive();
      }
    });
  }

  /** The current socket (or attempt) is over: fail what was in flight on it, then retry or close. */
  #ended(error: ConnectionLostError): void {
    const socket = this.#socket;
    if (socket) abandon(socket);
    this.#socket = null;
    this.#ready = false;
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#heartbeatTimer);
    this.#failInFlight(error);
    if (this.#state === "closed") return;
    if (error.details.reason === "policy" || this.#options.reconnect === false) {
      this.#shutdown(error);
      return;
    }
    const policy = this.#options.reconnect;
    if (this.#failures >= policy.maxAttempts) {
      const attempts = this.#failures;
      this.#shutdown(new ConnectionLostError(`Gave up reconnecting to ${this.url} after ${attempts} attempts: ${error.message}`, { ...error.details, reason: "gave_up" }));
      return;
    }
    const delayMs = backoffDelay(this.#failures, policy);
    this.#failures++;
    this.#setState("reconnecting", { attempt: this.#failures, delayMs, error });
    if (this.state !== "reconnecting") return; // a listener closed the client
    this.#retryTimer = setTimeout(() => this.#attempt(), delayMs);
  }

  #failInFlight(error: ConnectionLostError): void {
    const lost = [...this.#inFlight.values(), ...this.#legacyInFlight.values()];
    this.#inFlight.clear();
    this.#legacyInFlight.clear();
    for (const outgoing of lost) outgoing.fail(error);
  }

  /** For good: state "closed", everything pending fails with `error`. */
  #shutdown(error: ConnectionLostError): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#ready = false;
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#heartbeatTimer);
    if (this.#socket) {
      abandon(this.#socket);
      this.#socket = null;
    }
    const queued = this.#queue;
    this.#queue = [];
    this.#failInFlight(error);
    for (const outgoing of queued) outgoing.fail(error);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
    this.#setState("closed", { error });
  }
}

/** Detaches the client from a socket and drops it without waiting for a closing handshake. */
function abandon(socket: WebSocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  // `ws` throws an 'error' event nobody listens to; a late one must find this.
  socket.onerror = noop;
  try {
    if (typeof socket.terminate === "function") socket.terminate();
    else if (socket.readyState !== WS_CLOSED) socket.close(4000, "dropped by the client");
  } catch {
    // already closed
  }
}

/** Closes with 1000 and waits for the close event (at most CLOSE_GRACE_MS, then drops the socket). */
function closeGracefully(socket: WebSocketLike): Promise<void> {
  return new Promise<void>((resolve) => {
    socket.onopen = null;
    socket.onmessage = null;
    socket.onerror = noop;
    if (socket.readyState === WS_CLOSED) {
      socket.onclose = null;
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      socket.onclose = null;
      try {
        socket.terminate?.();
      } catch {
        // gone
      }
      resolve();
    }, CLOSE_GRACE_MS);
    socket.onclose = () => {
      clearTimeout(timer);
      socket.onclose = null;
      resolve();
    };
    try {
      socket.close(1000, socket.readyState === WS_OPEN ? "client closed" : undefined);
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}
