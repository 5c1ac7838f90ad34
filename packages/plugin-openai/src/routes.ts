/**
 * GET /v1/models (and /v1/models/{model}), POST /v1/completions and POST /v1/chat/completions on the node's port. Requests
 * go to the model pipeline exactly as the inference plugin's inference_request does (the same
 * defaults and the same GenerateRequest), with the request's `ctx.signal`: a client that goes
 * away cancels its generation.
 *
 * A streamed request is started before the response's headers go out: the pipeline refuses a
 * request (unknown model, prompt too long, no room, a grammar it cannot follow) on the stream's
 * first step, so those errors still reach the client as an HTTP error status rather than as an
 * event after a 200. A grammar's errors name the field the client wrote it in (`param`).
 */
import { randomBytes } from "node:crypto";
import {
  buildGenerateRequest,
  type HttpMethod,
  defineRoute,
  errors,
  generateChoices,
  modelNotFound,
  NODE_INFO,
  PIPELINE,
  renameGrammarField,
  streamChoices,
  type ChoiceEvent,
  type ErrorBody,
  type GenerateRequest,
  type GenerationResult,
  type HandlerContext,
  type HttpResponse,
  type ModelPipeline,
  type NodeInfo,
  type RequestedGrammar,
  ToolCallParser,
  type ToolCallParserOptions,
  type TokenLogprob,
} from "@modelnode/core";
import { cancelledError } from "./cancelled.js";
import { toolParsing } from "./tool-parsing.js";
import type { OpenAICounters } from "./counters.js";
import { modelObject, type ModelObject } from "./models.js";
import { toOpenAIError } from "./errors.js";
import { OPENAI_COUNTERS, type ResolvedOpenAIOptions } from "./options.js";
import {
  chatRequestSchema,
  completionRequestSchema,
  detokenizeRequestSchema,
  requestedGrammar,
  tokenizeRequestSchema,
  type ChatRequest,
  type ChatTurn,
  type CompletionRequest,
  type DetokenizeRequest,
  type TokenizeRequest,
} from "./schema.js";
import { responsesRoutes } from "./responses-route.js";
import { chatShape, completionShape, usageOf, type ChoiceCursor, type ChunkBase, type Shape } from "./shapes.js";

export type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatLogprobs,
  ChatTokenLogprob,
  CompletionLogprobs,
  OpenAIFinishReason,
  OpenAIUsage,
  TextCompletion,
  TextCompletionChunk,
} from "./shapes.js";

export interface ModelList {
  object: "list";
  data: ModelObject[];
}


interface Deps {
  pipeline: ModelPipeline;
  counters: OpenAICounters;
  info: NodeInfo;
}

const unixNow = () => Math.floor(Date.now() / 1000);
const newId = (prefix: string) => `${prefix}-${randomBytes(12).toString("hex")}`;

/** The API's names for the pipeline's request fields, shared by both endpoints. */
interface SamplingBody {
  model: string;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  repetition_penalty?: number | null;
  logit_bias?: Record<number, number> | null;
  speculative?: boolean | null;
  seed?: number | null;
  /** Already a list (the schema turns a single string into one). */
  stop?: string[];
}

/**
 * The GenerateRequest for a body: core's one mapping (the inference plugin's too), with this
 * plugin's defaults. `logprobs`: the alternatives per token to report, or undefined for none.
 */
function toGenerateRequest(
  body: SamplingBody,
  input: { prompt: string } | { messages: ChatTurn[]; tools?: ChatRequest["tools"]; toolChoice?: ChatRequest["tool_choice"]; parallelToolCalls?: boolean | null },
  maxTokens: number | null | undefined,
  logprobs: number | undefined,
  grammar: RequestedGrammar | undefined,
  options: ResolvedOpenAIOptions,
  signal: AbortSignal,
): GenerateRequest {
  // OpenAI's own default temperature is 1; ours is the model's (left to the pipeline).
  const { model: modelId, temperature, top_p: topP, top_k: topK, min_p: minP, seed, stop } = body;
  const { presence_penalty: presencePenalty, frequency_penalty: frequencyPenalty, repetition_penalty: repetitionPenalty, logit_bias: logitBias, speculative } = body;
  return buildGenerateRequest(
    { modelId, ...input, maxTokens, temperature, topP, topK, minP, presencePenalty, frequencyPenalty, repetitionPenalty, logitBias, seed, stop, logprobs, speculative, ...(grammar ? { grammar: grammar.grammar } : {}) },
    options.defaults,
    signal,
  );
}


interface Job<W, C> {
  shape: Shape<W, C>;
  idPrefix: string;
  model: string;
  request: GenerateRequest;
  /** Choices to generate (OpenAI's `n`). */
  n: number;
  /** Where the client wrote the request's grammar, if any: its errors name that field. */
  grammar: RequestedGrammar | undefined;
  stream: boolean;
  includeUsage: boolean;
  /** Read tool calls out of the text (chat with tools, tool_choice not "none"). */
  tools?: ToolCallParserOptions;
}

/**
 * Runs one request on the pipeline, as `n` generations (core's choice group: the pipeline may
 * prefill the prompt once): the whole result as JSON, or server-sent chunks then [DONE].
 */
async function generate<W, C>(job: Job<W, C>, ctx: HandlerContext, { pipeline, counters, info }: Deps): Promise<HttpResponse> {
  if (!pipeline.hasModel(job.model)) throw modelNotFound(job.model, pipeline);
  const id = newId(job.idPrefix);
  const created = unixNow();
  const logprobs = job.request.logprobs !== undefined;
  if (!job.stream) {
    counters.inFlight++;
    let results: GenerationResult[];
    try {
      results = job.n === 1 ? [await pipeline.generate(job.request)] : await generateChoices(pipeline, job.request, job.n);
    } catch (error) {
      throw renameGrammarField(error, job.grammar);
    } finally {
      counters.inFlight--;
    }
    for (const result of results) counters.recordFinish(result);
    if (results.some((result) => result.finishReason === "cancelled")) throw cancelledError(ctx, info);
    return { json: job.shape.whole(id, created, job.model, results, logprobs, job.tools) };
  }

  counters.inFlight++;
  counters.streams++;
  const iterator = streamChoices(pipeline, job.request, job.n)[Symbol.asyncIterator]();
  let first: IteratorResult<ChoiceEvent>;
  try {
    first = await iterator.next(); // the pipeline's refusals are thrown here, before any header is sent
  } catch (error) {
    counters.inFlight--;
    throw renameGrammarField(error, job.grammar);
  }
  const base: ChunkBase = { id, created, model: job.model, includeUsage: job.includeUsage };
  const { shape } = job;
  async function* events(): AsyncGenerator<C> {
    const results: GenerationResult[] = [];
    let finished = 0;
    const cursors: ChoiceCursor[] = Array.from({ length: job.n }, (_, index) => ({ index, offset: 0 }));
    // With tools, each choice's text goes through a parser: content as it is decided, calls whole.
    const parsers = job.tools && shape.toolCall ? Array.from({ length: job.n }, () => new ToolCallParser(job.tools!)) : undefined;
    const held: TokenLogprob[][] = Array.from({ length: job.n }, () => []);
    function* parsed(index: number, events: ReturnType<ToolCallParser["push"]>): Generator<C> {
      for (const item of events) {
        if (item.kind === "call") yield* shape.toolCall!(base, index, item.index, item.call);
        else {
          yield shape.text(base, cursors[index], item.text, logprobs ? held[index] : undefined);
          held[index] = [];
        }
      }
    }
    try {
      if (shape.opening) for (let index = 0; index < job.n; index++) yield shape.opening(base, index);
      for (let step = first; !step.done; step = await iterator.next()) {
        const event = step.value;
        if (event.kind === "text") {
          if (parsers) {
            if (logprobs) held[event.index].push(...(event.logprobs ?? []));
            yield* parsed(event.index, parsers[event.index].push(event.text));
          } else if (event.text.length > 0) yield shape.text(base, cursors[event.index], event.text, logprobs ? (event.logprobs ?? []) : undefined);
          continue;
        }
        finished++;
        counters.recordFinish(event.result);
        if (event.result.finishReason === "cancelled") throw cancelledError(ctx, info);
        results[event.index] = event.result;
        let reason = event.result.finishReason as "stop" | "length" | "tool_calls";
        if (parsers) {
          const parser = parsers[event.index];
          yield* parsed(event.index, parser.end());
          if (logprobs && held[event.index].length > 0) yield shape.text(base, cursors[event.index], "", held[event.index]);
          if (parser.callCount > 0 && reason === "stop") reason = "tool_calls";
        }
        yield shape.finish(base, event.index, reason);
      }
      if (job.includeUsage) yield shape.usage(base, usageOf(results));
    } finally {
      counters.inFlight--;
      if (finished < job.n) counters.recordAbandoned();
      // Stopped early (the client left): returning the pipeline's iterators cancels the generations.
      await iterator.return?.();
    }
  }
  return { events: events() as AsyncIterable<object>, end: "[DONE]" };
}

/** The routes (models, completions, chat, responses, the tokenizer's), with this plugin instance's limits and defaults. */
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
        data: pipeline.listModels().map((m) => modelObject(m, created, options.ownedBy)),
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
      return { json: modelObject(found, Math.floor(info.startedAt.getTime() / 1000), options.ownedBy) };
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
      const grammar = requestedGrammar(body);
      const request = toGenerateRequest(body, { prompt: body.prompt }, body.max_tokens, body.logprobs ?? undefined, grammar, options, ctx.signal);
      const stream = body.stream === true;
      const includeUsage = stream && body.stream_options?.include_usage === true;
      return generate({ shape: completionShape, idPrefix: "cmpl", model: body.model, request, n: body.n ?? 1, grammar, stream, includeUsage }, ctx, d);
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
      const logprobs = body.logprobs === true ? (body.top_logprobs ?? 0) : undefined;
      const grammar = requestedGrammar(body);
      const input = { messages: body.messages, tools: body.tools, toolChoice: body.tool_choice, parallelToolCalls: body.parallel_tool_calls };
      const request = toGenerateRequest(body, input, maxTokens, logprobs, grammar, options, ctx.signal);
      const stream = body.stream === true;
      const includeUsage = stream && body.stream_options?.include_usage === true;
      const tools = toolParsing(d.pipeline, body.model, body.tools, body.tool_choice, body.parallel_tool_calls);
      return generate({ shape: chatShape, idPrefix: "chatcmpl", model: body.model, request, n: body.n ?? 1, grammar, stream, includeUsage, ...(tools ? { tools } : {}) }, ctx, d);
    },
  });

  // vLLM's tokenizer routes: the ids a completion's prompt (or a chat, rendered with the model's
  // template and the generation prompt) starts from, and text for ids.
  const tokenize = defineRoute({
    method: "POST",
    path: "/tokenize",
    schema: tokenizeRequestSchema(options),
    maxBodyBytes: options.maxBodyBytes,
    inject: { pipeline: PIPELINE },
    formatError: (error, status) => toOpenAIError(error, status),
    handle: async (req, ctx, { pipeline }): Promise<HttpResponse> => {
      const body: TokenizeRequest = req.body;
      const found = pipeline.listModels().find((m) => m.id === body.model);
      if (!found) throw modelNotFound(body.model, pipeline);
      let tokens: number[];
      if (body.messages !== undefined) {
        if (!pipeline.tokenizeChat) throw errors.invalidRequest("This node's pipeline cannot tokenize a chat: send a prompt.", "messages");
        // The chat exactly as a chat completion hands it to the pipeline.
        const request = buildGenerateRequest({ modelId: body.model, messages: body.messages }, options.defaults, ctx.signal);
        tokens = await pipeline.tokenizeChat(body.model, request.messages ?? [], body.tools ?? undefined);
      } else {
        tokens = (await pipeline.tokenize(body.model, body.prompt ?? "")).ids;
      }
      return { json: { tokens, count: tokens.length, max_model_len: found.contextLength } };
    },
  });

  const detokenize = defineRoute({
    method: "POST",
    path: "/detokenize",
    schema: detokenizeRequestSchema(options),
    maxBodyBytes: options.maxBodyBytes,
    inject: { pipeline: PIPELINE },
    // INVALID_TOKENS (ids outside the vocabulary) names the field they came in.
    formatError: (error, status) => {
      const formatted = toOpenAIError(error, status);
      if (error.code === "INVALID_TOKENS") formatted.error.param = "tokens";
      return formatted;
    },
    handle: async (req, _ctx, { pipeline }): Promise<HttpResponse> => {
      const body: DetokenizeRequest = req.body;
      if (!pipeline.hasModel(body.model)) throw modelNotFound(body.model, pipeline);
      return { json: { prompt: await pipeline.detokenize(body.model, body.tokens) } };
    },
  });

  // Every other path under /v1/, any method: a 404 in OpenAI's shape. Exact routes (this
  // plugin's, the Anthropic plugin's /v1/messages) and patterns win over this fallback.
  const unknown = METHODS.map((method) =>
    defineRoute({
      method,
      path: "/v1/*",
      name: "openai unknown path",
      formatError: (error, status) => toOpenAIError(error, status),
      handle: (req): HttpResponse => {
        throw errors.notFound(`${req.method} /v1/${req.params["*"].slice(0, 128)} is not served by this node (see docs/plugin-openai.md)`);
      },
    }),
  );

  return [models, model, completions, chat, ...responsesRoutes(options), ...(options.tokenizerRoutes ? [tokenize, detokenize] : []), ...unknown];
}

const METHODS: HttpMethod[] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
