/**
 * The client's request and reply types, derived from the plugins' own schemas and reply types
 * (type-only imports: they vanish from the compiled JavaScript, so nothing of the plugins or of
 * core is loaded at run time).
 */
import type { AuthenticationResponse } from "@modelnode/plugin-auth";
import type { HeartbeatAck, HeartbeatRequest } from "@modelnode/plugin-heartbeat";
import type {
  InferenceCancelResponse,
  InferenceChunk,
  InferenceRequest,
  InferenceResponse,
  ListModelsResponse,
  TokenLogprobEntry,
  Tool,
  ToolCallEntry,
  ToolChoiceOption,
} from "@modelnode/plugin-inference";
import type { LegacyMessage, LegacyStepReply } from "@modelnode/plugin-legacy";

export type {
  AuthenticationResponse,
  HeartbeatAck,
  HeartbeatRequest,
  InferenceCancelResponse,
  InferenceChunk,
  InferenceRequest,
  InferenceResponse,
  LegacyMessage,
  LegacyStepReply,
  ListModelsResponse,
  TokenLogprobEntry,
  Tool,
  ToolChoiceOption,
};

/** A call the model made (`GenerationResult.toolCalls`; in a history, an assistant message's `tool_calls`): `arguments` is JSON text. */
export type ToolCall = ToolCallEntry;

/** The header every standard frame carries (replies: `correlation_id` is the request's message_id). */
export interface FrameHeader {
  message_id: string;
  message_type: string;
  protocol_version: string;
  timestamp: string;
  correlation_id?: string | null;
  license_hash?: string;
}

/** A reply's payload with its header. */
export type Reply<T> = T & { header: FrameHeader };

/** One message of a chat (`messages`). */
export type ChatMessage = NonNullable<InferenceRequest["messages"]>[number];

/**
 * Structured output (docs/structured-output.md): OpenAI's `{"type": "json_schema", "json_schema":
 * {name, schema, strict}}` or `{"type": "json_object"}`, or this node's `regex`, `grammar`, `choice`.
 */
export type ResponseFormat = NonNullable<InferenceRequest["response_format"]>;

/**
 * The sampling fields of `inference_request`, as the protocol names them (docs/sampling.md),
 * `response_format`, and tool calling: `tools`, `tool_choice`, `parallel_tool_calls`
 * (docs/structured-output.md, "Tool calling").
 */
export type SamplingOptions = Pick<
  InferenceRequest,
  | "max_tokens"
  | "temperature"
  | "top_p"
  | "top_k"
  | "min_p"
  | "presence_penalty"
  | "frequency_penalty"
  | "repetition_penalty"
  | "logit_bias"
  | "seed"
  | "stop"
  | "logprobs"
  | "top_logprobs"
  | "response_format"
  | "tools"
  | "tool_choice"
  | "parallel_tool_calls"
  | "speculative"
>;

/** What `client.generate()` takes: a prompt or a chat, the sampling fields, and client-side controls. */
export type GenerateOptions = SamplingOptions & {
  /** The model (`model_id`); default: the client's `model` option. */
  model?: string;
  /** Ask for `inference_chunk` frames (default true). With false, iterating yields the whole text once, at the end. */
  stream?: boolean;
  /** Aborting sends `inference_cancel`; the generation then ends with finishReason "cancelled" (not an error). */
  signal?: AbortSignal;
  /** Give up after this long: the request is cancelled on the node and the generation fails with TimeoutError. Default: none. */
  timeoutMs?: number;
  /**
   * A streamed generation asks for resume data and, when its connection drops, continues on the
   * next one (the next URL) where it stopped (docs/client.md). false: a drop fails it with
   * ConnectionLostError. Default: the client's `resumable` option.
   */
  resumable?: boolean;
} & ({ prompt: string; messages?: undefined } | { messages: ChatMessage[]; prompt?: undefined });

export type FinishReason = InferenceResponse["finish_reason"];
export type Usage = InferenceResponse["usage"];

/** What awaiting a generation gives. */
export interface GenerationResult {
  /** The generated text (the streamed pieces joined). */
  text: string;
  finishReason: FinishReason;
  usage: Usage;
  /** The model that ran it. */
  model: string;
  /** With `logprobs: true`: each generated token's log probability (and `top_logprobs` alternatives). */
  logprobs?: TokenLogprobEntry[];
  /** With `tools`: the calls the model made (`text` is then the text outside them); finishReason "tool_calls". */
  toolCalls?: ToolCall[];
}

/** A model as `list_models` describes it. */
export type ModelInfo = ListModelsResponse["models"][number];

/** Input of a legacy step: token ids, or text the node tokenizes. */
export type LegacyInput = LegacyMessage["input_tensors"]["input_ids"];

/** What a legacy step returns: the reply's `output_tensors`. */
export type LegacyOutput = LegacyStepReply["output_tensors"];

/** The part of the WebSocket API the client uses: the browser's `WebSocket` and `ws` both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType?: string;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drop the connection at once, without a closing handshake. */
  terminate?(): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ReconnectOptions {
  /** The cap of the first retry's delay; each further retry doubles it (full jitter: the delay is random in [0, cap)). Default 500. */
  initialDelayMs?: number;
  /** The largest cap. Default 15 000. */
  maxDelayMs?: number;
  /** Consecutive failed attempts after which the client gives up and closes. Default Infinity. */
  maxAttempts?: number;
}

export interface ClientOptions {
  /** The WebSocket class. Default: the global `WebSocket` (browsers, Node ≥ 22); `@modelnode/client/node` defaults to `ws`. */
  WebSocket?: WebSocketConstructor;
  /** The default model of `generate()` and legacy sessions. */
  model?: string;
  /** Connect as soon as the client is made (in a microtask, so listeners added right after see `connecting`). Default true; otherwise the first call connects. */
  autoConnect?: boolean;
  /** One attempt to open the WebSocket may take this long. Default 10 000. */
  connectTimeoutMs?: number;
  /** heartbeat, list_models, authentication, legacy steps and request() fail with TimeoutError after this long (counted from the call, waiting for a connection included); 0: never. Default 60 000. */
  requestTimeoutMs?: number;
  /** Send a `heartbeat` this long after the last one was answered; 0 turns the probe off. Default 15 000. */
  heartbeatIntervalMs?: number;
  /** A probe heartbeat unanswered for this long means the connection is dead: it is dropped and reconnected. Default 10 000. */
  heartbeatTimeoutMs?: number;
  /** The worker_id of heartbeats. Default "modelnode-client". */
  workerId?: string;
  /** Reconnect after a drop (or a failed first connect), or `false` to close instead. */
  reconnect?: ReconnectOptions | false;
  /** A license key to authenticate with on every connection (as if authenticate() had been called). */
  licenseKey?: string;
  /** A license_hash to put in every request's header (for a page that must not hold the key itself). */
  licenseHash?: string;
  /** Streamed generations resume on the next connection after a drop (GenerateOptions.resumable). Default true. */
  resumable?: boolean;
}

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/** Per-call options of the non-streaming calls. */
export interface CallOptions {
  /** Overrides the client's requestTimeoutMs (0: none). */
  timeoutMs?: number;
  /** Aborting rejects the call with the signal's reason (the node still answers; the reply is dropped). */
  signal?: AbortSignal;
}
