/**
 * What gateways and workers say to each other over NATS: the subjects and the JSON messages.
 * Everything is versioned by the subject prefix (default `modelnode.v1`).
 *
 * - `<p>.generate.<model>`  queue group `workers`: start a generation (request/reply: accepted, busy or an error)
 * - `<p>.step.<model>`      queue group `workers`: a step of a legacy session not pinned yet
 * - `<p>.tok.<model>`       queue group `workers`: tokenize / countTokens / detokenize / countChatTokens / tokenizeChat
 * - `<p>.w.<worker>.generate|step|ping|ctl|close`: one worker's own subjects (direct picks, pinned
 *   sessions, liveness pings, acknowledgements and cancellations, closing sessions)
 * - `<p>.hb`                every worker's heartbeat (membership); `<p>.discover` asks them all for one now;
 *   `<p>.bye` a closing worker's goodbye
 * - the gateway's per-request inbox: the pieces of one generation, numbered, then done / error / handback
 */
import { errors, isCodedError, ProtocolError, type ChatMessage, type GenerationResult, type GrammarSpec, type ModelInfo, type SamplingOptions, type TokenLogprob, type ToolChoice, type ToolSpec } from "@modelnode/core/pipeline";

export const DEFAULT_PREFIX = "modelnode.v1";
export const QUEUE_GROUP = "workers";

/** A model id as one subject token: ids with characters NATS gives meaning to are base64url-encoded. */
export function modelToken(modelId: string): string {
  return /^[A-Za-z0-9_-]+$/.test(modelId) ? modelId : `b64-${Buffer.from(modelId).toString("base64url")}`;
}

export const subjects = (prefix: string) => ({
  generate: (model: string) => `${prefix}.generate.${modelToken(model)}`,
  step: (model: string) => `${prefix}.step.${modelToken(model)}`,
  tok: (model: string) => `${prefix}.tok.${modelToken(model)}`,
  worker: (id: string, what: "generate" | "step" | "ping" | "ctl" | "close") => `${prefix}.w.${id}.${what}`,
  heartbeat: `${prefix}.hb`,
  discover: `${prefix}.discover`,
  /** A worker closing says goodbye here, so gateways know at once instead of at the next missed heartbeat. */
  goodbye: `${prefix}.bye`,
});
export type Subjects = ReturnType<typeof subjects>;

/**
 * Both sides' reconnect options for the NATS client: never give up (`maxReconnectAttempts: -1`),
 * try a server again after `waitMs` (the client's default is 2 s; a restarted server is found
 * sooner), other servers of a cluster at once.
 */
export function reconnectOptions(waitMs = 250) {
  return { reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: waitMs, reconnectJitter: 50 };
}

export interface WireError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface Heartbeat {
  worker: string;
  models: ModelInfo[];
  inFlight: number;
  maxInFlight: number;
  draining: boolean;
  /**
   * The worker's heartbeat period (ms): a gateway takes a worker silent for a few periods for
   * suspect and pings it. Absent from workers of an earlier version (then `memberTtlMs` alone).
   */
  periodMs?: number;
  /** Generations waiting in the worker's pipeline for a batch slot (its stats().queuedGenerations). */
  queued?: number;
  /**
   * `inFlight` per gateway id: a gateway swaps its own share for its exact count of what it has
   * on the worker now, so a heartbeat sent before its latest offers arrived does not undercount.
   */
  gateways?: Record<string, number>;
}

/** Worker → gateways on `<p>.bye`: this worker is closing (its subscriptions are about to go). */
export interface Goodbye {
  worker: string;
}

/** Gateway → worker: start (or resume) a generation. */
/** A generation request on the wire: the pipeline contract's sampling options, plus routing. */
export interface GenerateCall extends SamplingOptions {
  id: string;
  /** Which try this is; the worker tags every message with it, so late messages of an abandoned try are told apart. */
  attempt: number;
  inbox: string;
  gateway: string;
  modelId: string;
  prompt?: string;
  messages?: ChatMessage[];
  /** Pieces the worker may send beyond the last acknowledged one before it pauses. */
  window: number;
  /**
   * Continue a generation another worker started: the text and the number of pieces already
   * delivered; and, when every piece came with its token ids, those ids and the delivered text's
   * length, which the worker passes on as `GenerateRequest.resume` (an exact continuation, chats
   * included). Without them, the worker continues `prompt + text` (exact only where the
   * tokenizer round-trips the text; prompts only). `samplerState`: the last delivered piece's
   * (`ResumeFrom.samplerState`), so a sampled generation draws on as it would have; absent from an
   * older gateway, or when the pipeline gave none (greedy).
   */
  resume?: { text: string; pieces: number; generatedIds?: number[]; deliveredChars?: number; samplerState?: string };
  /**
   * Structured output (GenerateRequest.grammar): travels with every try, so a resumed generation
   * follows it too (the worker's pipeline rebuilds the grammar's state from `resume.generatedIds`).
   */
  grammar?: GrammarSpec;
  /** Tool calling (GenerateRequest.tools …): travels with every try, like the grammar it may bring. */
  tools?: ToolSpec[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
}

/** The sampling adjustments a request turns on (those left off stay off the wire): both ends copy them with this. */
export function adjustmentsOf(options: SamplingOptions): Partial<SamplingOptions> {
  const out: Partial<SamplingOptions> = {};
  for (const field of ADJUSTMENTS) if (options[field] !== undefined) (out as Record<string, unknown>)[field] = options[field];
  return out;
}

const ADJUSTMENTS = ["minP", "presencePenalty", "frequencyPenalty", "repetitionPenalty", "logitBias", "logprobs", "speculative"] as const;

export type CallReply = { ok: true; worker: string } | { busy: true; worker: string; reason: string } | { error: WireError };

/** Worker → gateway inbox. `n`: pieces sent so far in the whole generation (resumed ones included). */
export type StreamMessage =
  /**
   * `ids`: the token ids generated since the previous piece, where the pipeline says them; `lp`:
   * their log probabilities when asked for; `ss`: the pipeline's sampler state after them
   * (GenerationEvent.samplerState), where it says it.
   */
  | { t: "text"; attempt: number; seq: number; n: number; text: string; ids?: number[]; lp?: TokenLogprob[]; ss?: string }
  | { t: "done"; attempt: number; seq: number; result: GenerationResult }
  | { t: "error"; attempt: number; seq: number; error: WireError }
  /** The worker is draining and gives the generation back; the gateway continues it elsewhere. */
  | { t: "handback"; attempt: number; seq: number };

/**
 * Gateway → worker ctl subject. `ack`: every message up to this sequence number was taken (one
 * more credit each; the final one included, so the worker can let it go). `resend`: publish again
 * every message from this sequence number on that was not acknowledged: core NATS does not
 * redeliver what was in flight when a server died or a connection dropped, so the gateway asks
 * when it sees a gap, goes quiet, or reconnects.
 */
export type ControlMessage = { id: string; attempt: number; ack: number; resend?: number } | { id: string; attempt: number; cancel: true };

export interface StepCall {
  sessionId: string;
  modelId: string;
  step: number;
  inputIds: number[] | string;
  attentionMask?: number[];
}

export interface TokCall {
  op: "tokenize" | "countTokens" | "detokenize" | "countChatTokens" | "tokenizeChat";
  modelId: string;
  text?: string;
  ids?: number[];
  /** countChatTokens / tokenizeChat: the chat, and the tools it offers (rendered by the template). */
  messages?: ChatMessage[];
  tools?: ToolSpec[];
}

/** A countChatTokens or tokenizeChat call (plain copies: the wire takes JSON). */
export function chatCall(op: "countChatTokens" | "tokenizeChat", modelId: string, messages: readonly ChatMessage[], tools?: readonly ToolSpec[]): TokCall {
  return { op, modelId, messages: messages.map((m) => ({ ...m })), ...(tools && tools.length > 0 ? { tools: [...tools] } : {}) };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const encode = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));
export const decode = <T>(data: Uint8Array): T => JSON.parse(decoder.decode(data)) as T;

export function toWire(error: unknown): WireError {
  if (isCodedError(error)) return { code: error.code, message: error.message, details: (error as ProtocolError).details as Record<string, unknown> | undefined };
  return { code: "INTERNAL_ERROR", message: "The model worker failed." };
}

export function fromWire(error: WireError): Error {
  if (error.code === "INTERNAL_ERROR") return new Error(`worker error: ${error.message}`);
  return new ProtocolError(error.code as never, error.message, error.details as never);
}

export { errors };
