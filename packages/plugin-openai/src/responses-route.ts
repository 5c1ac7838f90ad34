/**
 * POST /v1/responses: OpenAI's Responses API (what the OpenAI Agents SDK and other agent
 * frameworks speak by default) on the model pipeline. The input items become the chat the chat
 * endpoint would send (instructions first, calls and their outputs as tool turns), rendered with
 * the model's own template; tools, tool_choice and text.format constrain the output as they do
 * there. Nothing is stored: each request carries its whole conversation.
 *
 * As with chat completions, a streamed request is started before the headers go out, so the
 * pipeline's refusals still come back as HTTP errors; a failure after that is an `error` event
 * followed by response.failed. A client that goes away cancels its generation.
 */
import { randomBytes } from "node:crypto";
import {
  buildGenerateRequest,
  defineRoute,
  httpStatusOf,
  modelNotFound,
  NODE_INFO,
  PIPELINE,
  parseToolCalls,
  renameGrammarField,
  ToolCallParser,
  type ErrorBody,
  type GenerateRequest,
  type GenerationEvent,
  type GenerationResult,
  type HandlerContext,
  type HttpResponse,
  type ModelPipeline,
  type NodeInfo,
  type RequestedGrammar,
  type TokenLogprob,
  type ToolCallEvent,
  type ToolCallParserOptions,
} from "@modelnode/core";
import { toErrorBody } from "@modelnode/core/protocol";
import { cancelledError } from "./cancelled.js";
import type { OpenAICounters } from "./counters.js";
import { toOpenAIError } from "./errors.js";
import { OPENAI_COUNTERS, type ResolvedOpenAIOptions } from "./options.js";
import { pipelineToolChoice, responsesGrammar, responsesRequestSchema, type ResponsesRequest } from "./responses-schema.js";
import { ResponseEvents, responseSkeleton, wholeResponse, type ResponseStreamEvent } from "./responses-shapes.js";

interface Deps {
  pipeline: ModelPipeline;
  counters: OpenAICounters;
  info: NodeInfo;
}

const LOGPROBS = "message.output_text.logprobs";

/** The GenerateRequest for a body, with the plugin's defaults. */
function toGenerateRequest(body: ResponsesRequest, grammar: RequestedGrammar | undefined, options: ResolvedOpenAIOptions, signal: AbortSignal): GenerateRequest {
  const { model: modelId, temperature, top_p: topP, top_k: topK, min_p: minP, seed, stop, tools } = body;
  const { presence_penalty: presencePenalty, frequency_penalty: frequencyPenalty, repetition_penalty: repetitionPenalty, logit_bias: logitBias, speculative } = body;
  const messages = body.instructions ? [{ role: "system" as const, content: body.instructions }, ...body.input] : body.input;
  const logprobs = body.include?.includes(LOGPROBS) ? (body.top_logprobs ?? 0) : undefined;
  return buildGenerateRequest(
    {
      modelId,
      messages,
      maxTokens: body.max_output_tokens,
      temperature,
      topP,
      topK,
      minP,
      seed,
      stop,
      presencePenalty,
      frequencyPenalty,
      repetitionPenalty,
      logitBias,
      speculative,
      logprobs,
      ...(grammar ? { grammar: grammar.grammar } : {}),
      tools,
      toolChoice: pipelineToolChoice(body.tool_choice),
      parallelToolCalls: body.parallel_tool_calls,
    },
    options.defaults,
    signal,
  );
}

/** How to read the calls out of the text: the model family's format, the offered names, the call limit. Undefined: no tools. */
function toolParsing(body: ResponsesRequest, pipeline: ModelPipeline): ToolCallParserOptions | undefined {
  const tools = body.tools ?? [];
  const choice = body.tool_choice ?? "auto";
  if (tools.length === 0 || choice === "none") return undefined;
  const format = pipeline.listModels().find((m) => m.id === body.model)?.toolCallFormat;
  if (!format) return undefined;
  const names = new Set(typeof choice === "object" ? [choice.name] : tools.map((tool) => tool.function.name));
  const single = body.parallel_tool_calls === false || typeof choice === "object";
  const maxCalls = single ? 1 : (body.max_tool_calls ?? undefined);
  return { format, names, ...(maxCalls !== undefined ? { maxCalls } : {}) };
}

/** The pipeline's field names as this endpoint's (max_tokens is max_output_tokens here). */
function formatError(error: ErrorBody, status: number) {
  const formatted = toOpenAIError(error, status, "input");
  if (formatted.error.param === "max_tokens") formatted.error.param = "max_output_tokens";
  return formatted;
}

async function whole(body: ResponsesRequest, request: GenerateRequest, grammar: RequestedGrammar | undefined, ctx: HandlerContext, { pipeline, counters, info }: Deps): Promise<HttpResponse> {
  const tools = toolParsing(body, pipeline);
  counters.inFlight++;
  let result: GenerationResult;
  try {
    result = await pipeline.generate(request);
  } catch (error) {
    throw renameGrammarField(error, grammar);
  } finally {
    counters.inFlight--;
  }
  counters.recordFinish(result);
  if (result.finishReason === "cancelled") throw cancelledError(ctx, info);
  const parsed = tools ? parseToolCalls(result.text, tools) : { content: result.text, calls: [] };
  return { json: wholeResponse(responseSkeleton(newId(), body), result, parsed, request.logprobs !== undefined) };
}

async function streamed(body: ResponsesRequest, request: GenerateRequest, grammar: RequestedGrammar | undefined, ctx: HandlerContext, { pipeline, counters, info }: Deps): Promise<HttpResponse> {
  const tools = toolParsing(body, pipeline);
  counters.inFlight++;
  counters.streams++;
  const iterator = pipeline.stream(request)[Symbol.asyncIterator]();
  let first: IteratorResult<GenerationEvent>;
  try {
    first = await iterator.next(); // the pipeline's refusals are thrown here, before any header is sent
  } catch (error) {
    counters.inFlight--;
    throw renameGrammarField(error, grammar);
  }
  const logprobs = request.logprobs !== undefined;
  const out = new ResponseEvents(responseSkeleton(newId(), body), logprobs);
  const parser = tools ? new ToolCallParser(tools) : undefined;
  // With tools, text waits in the parser until it is known not to be a call: its logprobs wait too.
  let held: TokenLogprob[] = [];
  const read = (items: ToolCallEvent[]) =>
    items.flatMap((item) => {
      if (item.kind === "call") return out.call(item.call);
      const events = out.text(item.text, held);
      held = [];
      return events;
    });
  async function* events(): AsyncGenerator<ResponseStreamEvent> {
    let finished = false;
    try {
      yield* out.opening();
      for (let step = first; !step.done; step = await iterator.next()) {
        const event = step.value;
        if (event.kind === "text") {
          if (!parser) yield* out.text(event.text, event.logprobs);
          else {
            if (event.logprobs) held.push(...event.logprobs);
            yield* read(parser.push(event.text));
          }
          continue;
        }
        finished = true;
        counters.recordFinish(event.result);
        if (event.result.finishReason === "cancelled") throw cancelledError(ctx, info);
        if (parser) yield* read(parser.end());
        yield* out.closing(event.result);
      }
    } catch (error) {
      // Headers are gone: the failure is told as events, in the API's shape.
      const { body: failure, internal } = toErrorBody(renameGrammarField(error, grammar));
      if (internal) ctx.logger.error({ err: error }, "responses stream failed");
      const { error: shaped } = formatError(failure, httpStatusOf(failure.code));
      yield* out.failed({ code: shaped.code ?? "server_error", message: shaped.message, param: shaped.param });
    } finally {
      counters.inFlight--;
      if (!finished) counters.recordAbandoned();
      // Stopped early (the client left): returning the pipeline's iterator cancels the generation.
      await iterator.return?.();
    }
  }
  return { events: events(), eventName: (event) => (event as { type?: string }).type };
}

const newId = () => `resp_${randomBytes(16).toString("hex")}`;

/** POST /v1/responses, with this plugin instance's limits and defaults. */
export function responsesRoute(options: ResolvedOpenAIOptions) {
  return defineRoute({
    method: "POST",
    path: "/v1/responses",
    schema: responsesRequestSchema(options),
    maxBodyBytes: options.maxBodyBytes,
    inject: { pipeline: PIPELINE, counters: OPENAI_COUNTERS, info: NODE_INFO },
    formatError,
    handle: (req, ctx, deps) => {
      const body: ResponsesRequest = req.body;
      if (!deps.pipeline.hasModel(body.model)) throw modelNotFound(body.model, deps.pipeline);
      const grammar = responsesGrammar(body);
      const request = toGenerateRequest(body, grammar, options, ctx.signal);
      return body.stream === true ? streamed(body, request, grammar, ctx, deps) : whole(body, request, grammar, ctx, deps);
    },
  });
}
