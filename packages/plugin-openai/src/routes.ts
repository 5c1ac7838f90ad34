/**
 * GET /v1/models (and /v1/models/{model}), POST /v1/completions and POST /v1/chat/completions on the node's port. Requests
 * go to the model pipeline exactly as the inference plugin's inference_request does (the same
 * defaults and the same GenerateRequest), with the request's `ctx.signal`: a client that goes
 * away cancels its generation.
 *
 * A streamed request is started before the response's headers go out: the pipeline refuses a
 * request (unknown model, prompt too long, no room) on the stream's first step, so those errors
 * still reach the client as an HTTP error status rather than as an event after a 200.
 */
import { randomBytes } from "node:crypto";
import {
  buildGenerateRequest,
  defineRoute,
  errors,
  modelNotFound,
  NODE_INFO,
  PIPELINE,
  type ErrorBody,
  type GenerateRequest,
  type GenerationEvent,
  type GenerationResult,
  type HandlerContext,
  type HttpResponse,
  type ModelPipeline,
  type NodeInfo,
} from "@modelnode/core";
import type { OpenAICounters } from "./counters.js";
import { toOpenAIError } from "./errors.js";
import { OPENAI_COUNTERS, type ResolvedOpenAIOptions } from "./options.js";
import { chatRequestSchema, completionRequestSchema, type ChatRequest, type ChatTurn, type CompletionRequest } from "./schema.js";

export type OpenAIFinishReason = "stop" | "length";

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** What POST /v1/completions answers (without `stream`). */
export interface TextCompletion {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  choices: { text: string; index: 0; logprobs: null; finish_reason: OpenAIFinishReason }[];
  usage: OpenAIUsage;
}

/** What POST /v1/chat/completions answers (without `stream`). */
export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: { index: 0; message: { role: "assistant"; content: string; refusal: null }; logprobs: null; finish_reason: OpenAIFinishReason }[];
  usage: OpenAIUsage;
}

/** One server-sent event of a streamed completion. */
export interface TextCompletionChunk {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  choices: { text: string; index: 0; logprobs: null; finish_reason: OpenAIFinishReason | null }[];
  usage?: OpenAIUsage | null;
}

/** One server-sent event of a streamed chat completion. */
export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: { index: 0; delta: { role?: "assistant"; content?: string }; logprobs: null; finish_reason: OpenAIFinishReason | null }[];
  usage?: OpenAIUsage | null;
}

export interface ModelList {
  object: "list";
  data: { id: string; object: "model"; created: number; owned_by: string }[];
}

interface Deps {
  pipeline: ModelPipeline;
  counters: OpenAICounters;
  info: NodeInfo;
}

const unixNow = () => Math.floor(Date.now() / 1000);
const newId = (prefix: string) => `${prefix}-${randomBytes(12).toString("hex")}`;

function usageOf(result: GenerationResult): OpenAIUsage {
  const { promptTokens, completionTokens } = result.usage;
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** The API's names for the pipeline's request fields, shared by both endpoints. */
interface SamplingBody {
  model: string;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  seed?: number | null;
  /** Already a list (the schema turns a single string into one). */
  stop?: string[];
}

/** The GenerateRequest for a body: core's one mapping (the inference plugin's too), with this plugin's defaults. */
function toGenerateRequest(
  body: SamplingBody,
  input: { prompt: string } | { messages: ChatTurn[] },
  maxTokens: number | null | undefined,
  options: ResolvedOpenAIOptions,
  signal: AbortSignal,
): GenerateRequest {
  // OpenAI's own default temperature is 1; ours is the model's (left to the pipeline).
  const { model: modelId, temperature, top_p: topP, top_k: topK, seed, stop } = body;
  return buildGenerateRequest({ modelId, ...input, maxTokens, temperature, topP, topK, seed, stop }, options.defaults, signal);
}

/**
 * A generation that ended "cancelled" never reaches a client as a result. Its signal fired (the
 * client left: nobody reads this) or the node is shutting down (it stopped waiting for in-flight
 * work, or the pipeline closed): SHUTTING_DOWN (503) tells a client still there to retry elsewhere.
 */
function cancelledError(ctx: HandlerContext, info: NodeInfo) {
  return ctx.signal.aborted && info.status() !== "draining"
    ? errors.cancelled("The request was cancelled before its generation finished.")
    : errors.shuttingDown("The generation was cancelled: the node is shutting down.");
}

/** How one endpoint turns a generation into JSON and into stream chunks. */
interface Shape<Whole, Chunk> {
  whole(id: string, created: number, model: string, result: GenerationResult): Whole;
  /** The chunk sent before any text (chat: the assistant's role), if any. */
  opening?(base: ChunkBase): Chunk;
  text(base: ChunkBase, text: string): Chunk;
  finish(base: ChunkBase, reason: OpenAIFinishReason): Chunk;
  /** The extra last chunk of `stream_options.include_usage`: no choices, the usage. */
  usage(base: ChunkBase, usage: OpenAIUsage): Chunk;
}

interface ChunkBase {
  id: string;
  created: number;
  model: string;
  /** `usage: null` on every chunk but the last when include_usage is asked for, as OpenAI does. */
  includeUsage: boolean;
}

const completionShape: Shape<TextCompletion, TextCompletionChunk> = {
  whole: (id, created, model, result) => ({
    id,
    object: "text_completion",
    created,
    model,
    choices: [{ text: result.text, index: 0, logprobs: null, finish_reason: result.finishReason as OpenAIFinishReason }],
    usage: usageOf(result),
  }),
  text: (b, text) => textChunk(b, text, null),
  finish: (b, reason) => textChunk(b, "", reason),
  usage: (b, usage) => ({ id: b.id, object: "text_completion", created: b.created, model: b.model, choices: [], usage }),
};

function textChunk(b: ChunkBase, text: string, finish: OpenAIFinishReason | null): TextCompletionChunk {
  const chunk: TextCompletionChunk = {
    id: b.id,
    object: "text_completion",
    created: b.created,
    model: b.model,
    choices: [{ text, index: 0, logprobs: null, finish_reason: finish }],
  };
  if (b.includeUsage) chunk.usage = null;
  return chunk;
}

const chatShape: Shape<ChatCompletion, ChatCompletionChunk> = {
  whole: (id, created, model, result) => ({
    id,
    object: "chat.completion",
    created,
    model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: result.text, refusal: null },
        logprobs: null,
        finish_reason: result.finishReason as OpenAIFinishReason,
      },
    ],
    usage: usageOf(result),
  }),
  opening: (b) => chatChunk(b, { role: "assistant", content: "" }, null),
  text: (b, text) => chatChunk(b, { content: text }, null),
  finish: (b, reason) => chatChunk(b, {}, reason),
  usage: (b, usage) => ({ id: b.id, object: "chat.completion.chunk", created: b.created, model: b.model, choices: [], usage }),
};

function chatChunk(b: ChunkBase, delta: ChatCompletionChunk["choices"][0]["delta"], finish: OpenAIFinishReason | null): ChatCompletionChunk {
  const chunk: ChatCompletionChunk = {
    id: b.id,
    object: "chat.completion.chunk",
    created: b.created,
    model: b.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  };
  if (b.includeUsage) chunk.usage = null;
  return chunk;
}

interface Job<W, C> {
  shape: Shape<W, C>;
  idPrefix: string;
  model: string;
  request: GenerateRequest;
  stream: boolean;
  includeUsage: boolean;
}

/** Runs one request on the pipeline: the whole result as JSON, or server-sent chunks then [DONE]. */
async function generate<W, C>(job: Job<W, C>, ctx: HandlerContext, { pipeline, counters, info }: Deps): Promise<HttpResponse> {
  if (!pipeline.hasModel(job.model)) throw modelNotFound(job.model, pipeline);
  const id = newId(job.idPrefix);
  const created = unixNow();
  if (!job.stream) {
    counters.inFlight++;
    let result: GenerationResult;
    try {
      result = await pipeline.generate(job.request);
    } finally {
      counters.inFlight--;
    }
    counters.recordFinish(result);
    if (result.finishReason === "cancelled") throw cancelledError(ctx, info);
    return { json: job.shape.whole(id, created, job.model, result) };
  }

  counters.inFlight++;
  counters.streams++;
  const iterator = pipeline.stream(job.request)[Symbol.asyncIterator]();
  let first: IteratorResult<GenerationEvent>;
  try {
    first = await iterator.next(); // the pipeline's refusals are thrown here, before any header is sent
  } catch (error) {
    counters.inFlight--;
    throw error;
  }
  const base: ChunkBase = { id, created, model: job.model, includeUsage: job.includeUsage };
  const { shape } = job;
  async function* events(): AsyncGenerator<C> {
    let finished = false;
    try {
      if (shape.opening) yield shape.opening(base);
      for (let step = first; !step.done; step = await iterator.next()) {
        const event = step.value;
        if (event.kind === "text") {
          if (event.text.length > 0) yield shape.text(base, event.text);
          continue;
        }
        finished = true;
        counters.recordFinish(event.result);
        if (event.result.finishReason === "cancelled") throw cancelledError(ctx, info);
        yield shape.finish(base, event.result.finishReason);
        if (job.includeUsage) yield shape.usage(base, usageOf(event.result));
      }
    } finally {
      counters.inFlight--;
      if (!finished) counters.recordAbandoned();
      // Stopped early (the client left): returning the pipeline's iterator cancels the generation.
      await iterator.return?.();
    }
  }
  return { events: events() as AsyncIterable<object>, end: "[DONE]" };
}

/** The three routes, with this plugin instance's limits and defaults. */
export function openaiRoutes(options: ResolvedOpenAIOptions) {
  const formatFor = (input?: string) => (error: ErrorBody, status: number) => toOpenAIError(error, status, input);
  const deps = { pipeline: PIPELINE, counters: OPENAI_COUNTERS, info: NODE_INFO };

  const models = defineRoute({
    method: "GET",
    path: "/v1/models",
    inject: { pipeline: PIPELINE, info: NODE_INFO },
    formatError: formatFor(),
    handle: (_req, _ctx, { pipeline, info }): HttpResponse => {
      const created = Math.floor(info.startedAt.getTime() / 1000);
      const list: ModelList = {
        object: "list",
        data: pipeline.listModels().map((m) => ({ id: m.id, object: "model", created, owned_by: options.ownedBy })),
      };
      return { json: list };
    },
  });

  // GET /v1/models/{model}: what the SDK's models.retrieve() asks.
  const model = defineRoute({
    method: "GET",
    path: "/v1/models/:model",
    inject: { pipeline: PIPELINE, info: NODE_INFO },
    formatError: formatFor("model"),
    handle: (req, _ctx, { pipeline, info }): HttpResponse => {
      const found = pipeline.listModels().find((m) => m.id === req.params.model);
      if (!found) throw modelNotFound(req.params.model, pipeline);
      return { json: { id: found.id, object: "model", created: Math.floor(info.startedAt.getTime() / 1000), owned_by: options.ownedBy } };
    },
  });

  const completions = defineRoute({
    method: "POST",
    path: "/v1/completions",
    schema: completionRequestSchema(options),
    maxBodyBytes: options.maxBodyBytes,
    inject: deps,
    formatError: formatFor("prompt"),
    handle: (req, ctx, d) => {
      const body: CompletionRequest = req.body;
      const request = toGenerateRequest(body, { prompt: body.prompt }, body.max_tokens, options, ctx.signal);
      const stream = body.stream === true;
      const includeUsage = stream && body.stream_options?.include_usage === true;
      return generate({ shape: completionShape, idPrefix: "cmpl", model: body.model, request, stream, includeUsage }, ctx, d);
    },
  });

  const chat = defineRoute({
    method: "POST",
    path: "/v1/chat/completions",
    schema: chatRequestSchema(options),
    maxBodyBytes: options.maxBodyBytes,
    inject: deps,
    formatError: formatFor("messages"),
    handle: (req, ctx, d) => {
      const body: ChatRequest = req.body;
      const maxTokens = body.max_completion_tokens ?? body.max_tokens;
      const request = toGenerateRequest(body, { messages: body.messages }, maxTokens, options, ctx.signal);
      const stream = body.stream === true;
      const includeUsage = stream && body.stream_options?.include_usage === true;
      return generate({ shape: chatShape, idPrefix: "chatcmpl", model: body.model, request, stream, includeUsage }, ctx, d);
    },
  });

  return [models, model, completions, chat];
}
