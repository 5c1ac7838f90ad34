/**
 * The page's logic that does not touch the DOM (so that Node tests can run it): the WebSocket
 * URL from the page's location, the request from the form's fields (a field left empty is not
 * sent, so the node's own default applies), and the timing figures of a generation.
 */

/** The node's WebSocket URL for a page served by the node: same host and port, wss: under https. */
export function socketUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/`;
}

export interface ChatTurn {
  role: string;
  content: string;
}

/** The form as text, as the inputs hold it. */
export interface FormValues {
  model: string;
  mode: "prompt" | "chat";
  prompt: string;
  turns: readonly ChatTurn[];
  max_tokens: string;
  temperature: string;
  top_p: string;
  top_k: string;
  seed: string;
  /** One stop sequence per line. */
  stop: string;
  /** A JSON schema the output must follow (empty: free text). */
  json_schema: string;
  /** How many likeliest alternatives to show per token (empty: no log probabilities). */
  top_logprobs: string;
}

/** What the page asks the client to generate (the client's generate() options, less `signal`). */
export interface PlaygroundRequest {
  model: string;
  prompt?: string;
  messages?: ChatTurn[];
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  seed?: number;
  stop?: string[];
  response_format?: { type: "json_schema"; json_schema: { name: string; schema: Record<string, unknown> } };
  logprobs?: boolean;
  top_logprobs?: number;
}

export type Built = { ok: true; request: PlaygroundRequest } | { ok: false; field: keyof FormValues; message: string };

const NUMBER_FIELDS = [
  { field: "max_tokens", label: "Max tokens", integer: true, min: 1 },
  { field: "temperature", label: "Temperature", integer: false, min: 0, max: 2 },
  { field: "top_p", label: "Top p", integer: false, min: 0, max: 1, exclusiveMin: true },
  { field: "top_k", label: "Top k", integer: true, min: 0 },
  { field: "seed", label: "Seed", integer: true, min: 0 },
  { field: "top_logprobs", label: "Top log probabilities", integer: true, min: 0, max: 20 },
] as const;

/**
 * The request for the form, or the first field that cannot be sent. Only fields given are
 * included: an empty sampling field means "the node's default", never a value guessed here.
 * Ranges are the protocol's; the node checks them again (and its own limits) anyway.
 */
export function buildRequest(form: FormValues): Built {
  if (!form.model) return { ok: false, field: "model", message: "Pick a model (the node lists none yet)." };
  const request: PlaygroundRequest = { model: form.model };
  if (form.mode === "chat") {
    if (form.turns.length === 0) return { ok: false, field: "turns", message: "Add at least one chat turn." };
    const blank = form.turns.findIndex((turn) => turn.role.trim() === "");
    if (blank >= 0) return { ok: false, field: "turns", message: `Turn ${blank + 1} has no role.` };
    request.messages = form.turns.map((turn) => ({ role: turn.role.trim(), content: turn.content }));
  } else {
    if (form.prompt === "") return { ok: false, field: "prompt", message: "Type a prompt." };
    request.prompt = form.prompt;
  }
  for (const spec of NUMBER_FIELDS) {
    const text = form[spec.field].trim();
    if (text === "") continue;
    const value = Number(text);
    const range =
      "max" in spec
        ? "exclusiveMin" in spec
          ? `greater than ${spec.min} and at most ${spec.max}`
          : `from ${spec.min} to ${spec.max}`
        : `${spec.min} or more`;
    const kind = spec.integer ? "a whole number" : "a number";
    const bad =
      !Number.isFinite(value) ||
      (spec.integer && !Number.isSafeInteger(value)) ||
      ("exclusiveMin" in spec ? value <= spec.min : value < spec.min) ||
      ("max" in spec && value > spec.max);
    if (bad) return { ok: false, field: spec.field, message: `${spec.label} must be ${kind} ${range}, or empty for the node's default.` };
    request[spec.field] = value;
  }
  // Asking for alternatives (0 too: the chosen token's own) turns log probabilities on.
  if (request.top_logprobs !== undefined) request.logprobs = true;
  const stops = form.stop.split(/\r?\n/).filter((line) => line !== "");
  if (stops.length > 0) request.stop = stops;
  if (form.json_schema.trim() !== "") {
    let schema: unknown;
    try {
      schema = JSON.parse(form.json_schema);
    } catch (error) {
      return { ok: false, field: "json_schema", message: `The JSON schema is not JSON: ${(error as Error).message}` };
    }
    if (schema === null || typeof schema !== "object" || Array.isArray(schema)) {
      return { ok: false, field: "json_schema", message: "The JSON schema must be an object, such as {\"type\": \"object\"}." };
    }
    request.response_format = { type: "json_schema", json_schema: { name: "playground", schema: schema as Record<string, unknown> } };
  }
  return { ok: true, request };
}

/** A log probability as a percentage: "42%", "0.3%", "<0.1%". */
export function formatProbability(logprob: number): string {
  const percent = Math.exp(logprob) * 100;
  if (percent >= 10) return `${Math.round(percent)}%`;
  if (percent >= 0.1) return `${percent.toFixed(1)}%`;
  return "<0.1%";
}

/**
 * Timing of one generation. Time to first token: from sending the request to the first piece of
 * text. Tokens/s: the decode rate after the first token (tokens − 1 over the time from the first
 * piece to the last), so the prompt's processing does not count against it. Pieces stand in for
 * tokens while streaming; the final usage's completion_tokens replaces their count.
 */
export class GenerationTimer {
  private firstAt: number | undefined;
  private lastAt: number | undefined;
  private pieces = 0;
  private tokens: number | undefined;

  constructor(private readonly startedAt: number) {}

  piece(now: number): void {
    this.pieces++;
    this.firstAt ??= now;
    this.lastAt = now;
  }

  finish(now: number, completionTokens?: number): void {
    this.tokens = completionTokens;
    if (this.firstAt !== undefined) this.lastAt = now;
  }

  /** Milliseconds to the first piece, or undefined before it. */
  get timeToFirstTokenMs(): number | undefined {
    return this.firstAt === undefined ? undefined : this.firstAt - this.startedAt;
  }

  get tokenCount(): number {
    return this.tokens ?? this.pieces;
  }

  /** Tokens per second after the first; undefined until there are two tokens over a measurable time. */
  get tokensPerSecond(): number | undefined {
    if (this.firstAt === undefined || this.lastAt === undefined) return undefined;
    const seconds = (this.lastAt - this.firstAt) / 1000;
    const count = this.tokenCount - 1;
    return count >= 1 && seconds > 0 ? count / seconds : undefined;
  }
}

/** "123 ms", "1.24 s". */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return "–";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** "17.3", "245". */
export function formatRate(rate: number | undefined): string {
  if (rate === undefined) return "–";
  return rate < 100 ? rate.toFixed(1) : String(Math.round(rate));
}
