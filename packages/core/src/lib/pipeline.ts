/**
 * The model-pipeline contract. Core defines it so that plugins (legacy, inference, heartbeat)
 * can call a model without importing any runtime package; an application binds an
 * implementation (e.g. `@modelnode/onnx`) to the `PIPELINE` token at startup.
 */
import type { InjectionToken } from "tsyringe";
import { errors, type ProtocolError } from "./errors.js";
import type { GrammarSpec } from "./grammar-spec.js";

export type { GrammarSpec } from "./grammar-spec.js";

export type FinishReason = "stop" | "length" | "cancelled";

export interface ModelInfo {
  /** The id clients send as `model_id`. */
  id: string;
  /** Largest number of tokens (prompt + generated) the model can hold. */
  contextLength: number;
  vocabSize: number;
  /** Free-form facts worth showing to clients (architecture, layers, …). */
  description?: string;
  /** Token ids that end a generation (the model's end-of-sequence tokens); empty when none. */
  eosTokenIds?: number[];
  /** The beginning-of-sequence token id, when the model has one. */
  bosTokenId?: number;
  /** Model family as its config names it (e.g. "gpt2", "llama"). */
  architecture?: string;
  /** Whether chats are rendered with the model's own template (false: the pipeline's fallback). */
  hasChatTemplate?: boolean;
  /**
   * How the model writes tool calls, recognised from its chat template (docs/structured-output.md,
   * "Tool calling"): "hermes" (`<tool_call>{"name", "arguments"}</tool_call>`, Qwen, Hermes and
   * the pipeline's fallback for templates that know no tools) or "llama3_json" (`{"name",
   * "parameters"}`). Absent: the pipeline takes no tools.
   */
  toolCallFormat?: ToolCallFormat;
  /**
   * Set when this id is another name for a model served under `aliasOf` (loaded once; the two
   * ids share its memory, sessions and batches).
   */
  aliasOf?: string;
  /**
   * For a pipeline that loads models on demand (docs/models.md, "A models directory"): whether
   * the model is in memory now. Absent: always loaded.
   */
  state?: ModelState;
  /** Memory the model takes (or would take) when loaded, in bytes, as far as the pipeline knows. */
  sizeBytes?: number;
  /** When a loaded, idle model is due to be unloaded (ms since the epoch); absent: not due. */
  expiresAt?: number;
}

/** See `ModelInfo.state`. */
export type ModelState = "loaded" | "loading" | "unloaded";

/** What tokenize() returns: the ids, and their pieces of text (so a client can show them). */
export interface Tokenization {
  ids: number[];
  /** One string per id; pieces of a multi-byte character may be empty or partial. */
  tokens: string[];
}

export interface SamplingOptions {
  /** Upper bound on generated tokens; the pipeline clamps it to its configured ceiling. */
  maxTokens?: number;
  /** 0 means greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Drops tokens whose probability (after temperature) is below minP × the likeliest token's; 0 means off. */
  minP?: number;
  /** OpenAI's: subtracted from the logit of every token generated at least once so far; 0 means off. */
  presencePenalty?: number;
  /** OpenAI's: subtracted from a token's logit once per time it was generated so far; 0 means off. */
  frequencyPenalty?: number;
  /**
   * Hugging Face's and llama.cpp's: the logit of every token of the prompt or of the generation so
   * far is divided by it when positive, multiplied by it when negative; 1 means off.
   */
  repetitionPenalty?: number;
  /** Token id → a bias added to that token's logit (OpenAI: −100 to 100; −100 in effect bans it). */
  logitBias?: Readonly<Record<number, number>>;
  /** Makes sampling reproducible: the same seed, prompt and options give the same text. */
  seed?: number;
  /** Generation ends (finish_reason "stop") when the text produced contains one of these; the stop text is not returned. */
  stop?: string[];
  /**
   * Ask for log probabilities: each generated token's (`TokenLogprob`), and with N > 0 those of
   * the N likeliest tokens at its position too. Absent: none (and no cost).
   */
  logprobs?: number;
  /**
   * Speculative decoding (a pipeline that has it, such as @modelnode/onnx's prompt lookup): false
   * turns it off for this request, true asks for it where the node has it on. It never changes the
   * text, only how fast it comes. Absent: the node's default.
   */
  speculative?: boolean;
}

/** A generated token and its log probability (see `SamplingOptions.logprobs`). */
export interface TokenLogprob {
  id: number;
  /** The token's text alone (a piece of a character that spans tokens reads U+FFFD). */
  token: string;
  /** The token's bytes (UTF-8; exact, also for a piece of a character). */
  bytes: number[];
  /**
   * Natural log of its probability in the distribution it was sampled from: the logits after
   * the penalties and the bias, divided by the temperature (1 when greedy), before any top-k,
   * top-p or min-p cut. Never below −9999 (what OpenAI sends for an impossible token).
   */
  logprob: number;
  /** The likeliest tokens at its position, likeliest first, as many as asked. */
  top?: TokenAlternative[];
}

export type TokenAlternative = Omit<TokenLogprob, "top">;

/**
 * Several choices for one request (OpenAI's `n`): `size` requests that differ only in their
 * seed, each marked with this object (see `choiceRequests`), so that a pipeline may prefill
 * their prompt once and share it. A pipeline that does not look at it runs them as it would
 * any requests.
 */
export interface ChoiceGroup {
  readonly size: number;
}

/** One turn of a chat, as OpenAI's API and chat templates name them. */
export interface ChatMessage {
  /** "system", "user", "assistant", "tool" (or others the model's template knows). */
  role: string;
  content: string;
  /** An assistant turn's calls (OpenAI's shape; the template sees `arguments` parsed, as transformers passes them). */
  tool_calls?: ToolCall[];
  /** A "tool" turn: the call it answers. */
  tool_call_id?: string;
}

/** How a model writes tool calls (see `ModelInfo.toolCallFormat`). */
export type ToolCallFormat = "hermes" | "llama3_json";

/** A function the model may call (OpenAI's tool object; the chat template sees it as given). */
export interface ToolSpec {
  type: "function";
  function: {
    /** 1 to 64 characters of a-z, A-Z, 0-9, "_" and "-". */
    name: string;
    description?: string;
    /** A JSON schema of the arguments object (absent: any object). */
    parameters?: Record<string, unknown>;
  };
}

/** Whether and which tools the model must call ("auto" when tools are given and it is absent). */
export type ToolChoice = "auto" | "none" | "required" | { type: "function"; function: { name: string } };

/** A call the model made: `arguments` is the JSON text of an object. */
export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface GenerateRequest extends SamplingOptions {
  modelId: string;
  /** The text to continue. Give exactly one of `prompt` and `messages`. */
  prompt?: string;
  /**
   * A chat to continue as the assistant's next turn: rendered with the model's own chat
   * template (tokenizer_config.json's `chat_template`), or the pipeline's documented fallback
   * template when the model has none.
   */
  messages?: ChatMessage[];
  /** Aborting stops generation within one decode step; the result then has finishReason "cancelled". */
  signal?: AbortSignal;
  /**
   * Continue a generation another pipeline started: the prompt (or messages) as given, plus these
   * already generated token ids; the text of the first `deliveredChars` characters of their decode
   * was already delivered, so emit only what follows (characters: JavaScript string length, UTF-16
   * code units). `generatedIds` count toward `maxTokens` (and toward the result's completion
   * tokens; the result's text is the whole generation's). A pipeline without token ids may ignore it.
   */
  resume?: ResumeFrom;
  /** One of the `group.size` choices of a request (see `ChoiceGroup`); `index` from 0. */
  choice?: { group: ChoiceGroup; index: number };
  /**
   * Constrains the generated text to a grammar (structured output, docs/structured-output.md):
   * before each token is sampled, tokens the grammar does not allow next are masked out, and
   * end-of-sequence is allowed only where the text is complete. A grammar the pipeline cannot
   * follow is INVALID_GRAMMAR with `details.field` "grammar" or "grammar.<its field>"; a pipeline
   * that cannot constrain at all refuses every request carrying one the same way.
   */
  grammar?: GrammarSpec;
  /**
   * Functions the model may call (docs/structured-output.md, "Tool calling"): rendered by the
   * model's chat template (its `tools` variable), or listed in a system preamble when the template
   * knows no tools. With `toolChoice` "required" or a named function, and with "auto" after the
   * model opens a call, the calls are constrained to the format and to each function's
   * parameters schema (INVALID_GRAMMAR naming `tools[i].function.parameters` when one cannot be
   * followed). The pipeline returns the text; `parseToolCalls` reads the calls out of it.
   * Only with `messages`; not with `grammar`.
   */
  tools?: ToolSpec[];
  toolChoice?: ToolChoice;
  /** false: at most one call (default true). */
  parallelToolCalls?: boolean;
  /**
   * How long the model stays loaded once this request ends and it is idle, in ms (Ollama's
   * `keep_alive`): negative keeps it loaded, 0 unloads it right after. Absent: the pipeline's
   * default. Pipelines that never unload ignore it.
   */
  keepAliveMs?: number;
}

/** See `GenerateRequest.resume`. */
export interface ResumeFrom {
  generatedIds: number[];
  deliveredChars: number;
  /** Continue sampling from this state (a text event's `samplerState` after the last of `generatedIds`); absent: from the seed. */
  samplerState?: string;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /**
   * Prompt tokens whose keys and values came from the pipeline's prefix cache instead of being
   * computed (OpenAI's `prompt_tokens_details.cached_tokens`); a pipeline that cannot say leaves it out.
   */
  cachedTokens?: number;
}

export interface GenerationResult {
  text: string;
  finishReason: FinishReason;
  /** finishReason "stop" because the text reached one of the request's `stop` strings: which (a pipeline that cannot say leaves it out). */
  stopSequence?: string;
  usage: Usage;
  /** With `logprobs` asked for: one entry per generated token whose text is in `text`. */
  logprobs?: TokenLogprob[];
  /** What the pipeline measured, where it can (metrics use it). */
  timings?: GenerationTimings;
}

export interface GenerationTimings {
  /** Milliseconds the generation waited for a place in a batch (0 when admitted at once). */
  queuedMs?: number;
}

/** What `stream()` yields: pieces of text as they are produced, then exactly one `done`. */
export type GenerationEvent =
  /**
   * `tokenIds`: the ids generated since the previous text event (their text may be partly held
   * back until a later event, e.g. an incomplete character or a possible stop-string start); a
   * pipeline that cannot say leaves it out. `logprobs` (when asked for): one per id of `tokenIds`.
   * `samplerState`: opaque, the pipeline's own: its sampler's state right after the last id of
   * `tokenIds` (of the ids so far), which `ResumeFrom.samplerState` continues from, so a sampled
   * generation resumed elsewhere draws what it would have (seeded or not); a pipeline that cannot
   * say, or has nothing to carry (greedy), leaves it out.
   */
  | { kind: "text"; text: string; tokenIds?: number[]; logprobs?: TokenLogprob[]; samplerState?: string }
  | { kind: "done"; result: GenerationResult };

/** One step of the legacy protocol (see PROTOCOL.md, "Legacy format"). */
export interface StepRequest {
  /** Session key; the caller decides its scope. */
  sessionId: string;
  modelId: string;
  /** 0 starts or restarts the session with the whole prompt; n > 0 continues it. */
  step: number;
  /** Token ids, or text to tokenize. */
  inputIds: number[] | string;
  /** Optional mask for `inputIds` (1 = attend); when absent, all ones. */
  attentionMask?: number[];
  signal?: AbortSignal;
}

export interface StepResult {
  sessionId: string;
  step: number;
  /** Greedy next token after the input of this step. */
  nextTokenId: number;
  nextTokenText: string;
  /** Tokens the session holds after this step (prompt + all steps' inputs). */
  sequenceLength: number;
  /** The ids the step consumed (after tokenisation when the input was text). */
  inputIds: number[];
  /** Whether the next token is the model's end-of-sequence token. */
  isEos: boolean;
}

export interface PipelineStats {
  activeSessions: number;
  generationsInFlight: number;
  /** Bytes held by cached key/value state across sessions. */
  cacheBytes: number;
  /** Generations waiting for a batch slot or cache memory (0 for a pipeline without a queue). */
  queuedGenerations: number;

  /**
   * More figures, each a number (/stats shows them as they are). A pipeline with a prefix cache
   * reports `prefixCacheBytes` and `prefixCacheBlocks` (what it keeps), `prefixCacheQueries` and
   * `prefixCacheHits` (prompt tokens looked up in it and found there since it started: vLLM's
   * prefix_cache_queries / _hits); the metrics plugin exports them.
   */
  [key: string]: number;
}

/** One worker's load, as a pipeline that spreads its work over other processes sees it (ModelPipeline.workerLoads). */
export interface WorkerLoad {
  worker: string;
  /** Generations it runs now (as the pipeline estimates it). */
  inFlight: number;
  /** Generations it takes at once. */
  capacity: number;
  /** Generations waiting in its own queue. */
  queued: number;
  /** Generations this pipeline has given it since it started. */
  assigned: number;
}

export interface ModelPipeline {
  /**
   * Models come and go while it runs (e.g. workers that announce them): an empty listModels() at
   * startup is no error, and plugins look models up per request. Absent: the models are fixed.
   */
  readonly dynamicModels?: boolean;
  /**
   * Why it cannot serve now (e.g. "waiting for a worker to announce a model"), or undefined when
   * it can. Optional; pipelinePlugin makes /readyz answer 503 with the reason.
   */
  notReady?(): string | undefined;
  /** Per-worker load, for a pipeline that spreads work over workers (/metrics shows it). Optional. */
  workerLoads?(): WorkerLoad[];
  listModels(): ModelInfo[];
  hasModel(modelId: string): boolean;
  /**
   * Loads a model now, with no request (Ollama's /api/generate without a prompt), and keeps it
   * loaded for `keepAliveMs` once idle (absent: the pipeline's default; negative: until it is
   * unloaded). Optional: only a pipeline that loads models on demand has it; MODEL_NOT_FOUND for
   * an unknown model, BUSY when it cannot be loaded now.
   */
  loadModel?(modelId: string, keepAliveMs?: number): Promise<void>;
  /**
   * Unloads a model now (Ollama's `keep_alive: 0` without a prompt): resolves once it is out of
   * memory, or — requests still running on it — once marked to go when the last one ends. A model
   * the pipeline always keeps loaded stays. Optional, like loadModel; MODEL_NOT_FOUND for an
   * unknown model.
   */
  unloadModel?(modelId: string): Promise<void>;
  /**
   * The model's tokenizer alone: no session, no generation slot, no cache. Text is encoded as
   * a prompt would be (special tokens such as BOS included when the model adds them).
   * MODEL_NOT_FOUND for an unknown model.
   */
  tokenize(modelId: string, text: string): Promise<Tokenization>;
  /** `tokenize(...).ids.length`, without building the token strings. */
  countTokens(modelId: string, text: string): Promise<number>;
  /**
   * Tokens of a chat as a generation's prompt would hold them: rendered with the model's chat
   * template, then encoded. With `tools`, rendered with them as a generation offering them (its
   * toolChoice not "none") renders them; checked as GenerateRequest.tools are. Optional: a
   * pipeline without it cannot count chats (a front door then says so). MODEL_NOT_FOUND for an
   * unknown model.
   */
  countChatTokens?(modelId: string, messages: readonly ChatMessage[], tools?: readonly ToolSpec[]): Promise<number>;
  /**
   * The token ids `countChatTokens` counts (the chat template's rendering, with the generation
   * prompt, encoded as a generation's prompt would be). Optional, as countChatTokens is.
   */
  tokenizeChat?(modelId: string, messages: readonly ChatMessage[], tools?: readonly ToolSpec[]): Promise<number[]>;
  /** Text for token ids; INVALID_TOKENS for ids outside the vocabulary. */
  detokenize(modelId: string, ids: number[]): Promise<string>;
  generate(request: GenerateRequest): Promise<GenerationResult>;
  stream(request: GenerateRequest): AsyncIterable<GenerationEvent>;
  /** Runs one legacy step; errors are coded (`errors.sessionNotFound(...)`, …) with codes such as SESSION_NOT_FOUND. */
  step(request: StepRequest): Promise<StepResult>;
  /** Frees a step session's cache; false when there was none. */
  closeSession(sessionId: string): boolean;
  stats(): PipelineStats;
  /** Frees every model and session. */
  close(): Promise<void>;
}

/** DI token an application binds its pipeline to. */
export const PIPELINE: InjectionToken<ModelPipeline> = Symbol.for("modelnode.pipeline");

/** MODEL_NOT_FOUND for a model id a client asked for, naming (a bounded list of) what is served. */
export function modelNotFound(modelId: string, pipeline: Pick<ModelPipeline, "listModels">): ProtocolError {
  return errors.modelNotFound(modelId, pipeline.listModels().map((m) => m.id));
}
