/**
 * POST /v1/responses: OpenAI's Responses API (what the OpenAI Agents SDK and other agent
 * frameworks speak by default) on the model pipeline. The input items become the chat the chat
 * endpoint would send (instructions first, calls and their outputs as tool turns), rendered with
 * the model's own template; tools, tool_choice and text.format constrain the output as they do
 * there. A response is kept (store, default true; response-store.ts) so that a request naming it
 * as `previous_response_id` continues its conversation, and GET/DELETE /v1/responses/{id} reach it.
 *
 * As with chat completions, a streamed request is started before the headers go out, so the
 * pipeline's refusals still come back as HTTP errors; a failure after that is an `error` event
 * followed by response.failed. A client that goes away cancels its generation.
 */
import { randomBytes } from "node:crypto";
import {
  buildGenerateRequest,
  defineRoute,
  errors,
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
} from "@modelnode/core";
import { toErrorBody } from "@modelnode/core/protocol";
import { cancelledError } from "./cancelled.js";
import { toolParsing } from "./tool-parsing.js";
import type { OpenAICounters } from "./counters.js";
import { toOpenAIError } from "./errors.js";
import { OPENAI_COUNTERS, type ResolvedOpenAIOptions } from "./options.js";
import { OPENAI_RESPONSE_STORE, type ResponseStore, type StoredResponse } from "./response-store.js";
import type { ChatTurn } from "./schema.js";
import { pipelineToolChoice, responsesGrammar, responsesRequestSchema, type ResponsesRequest } from "./responses-schema.js";
import { outputTurns, ResponseEvents, responseSkeleton, wholeResponse, type ResponseObject, type ResponseStreamEvent } from "./responses-shapes.js";

interface Deps {
  pipeline: ModelPipeline;
  counters: OpenAICounters;
  info: NodeInfo;
  store: ResponseStore;
}

/** A request with what it continues: the kept conversation it names, if any. */
interface Continued {
  body: ResponsesRequest;
  /** The turns before this request's input (a previous response's conversation), without instructions. */
  history: ChatTurn[];
  /** Whether this response is kept. */
  keep: boolean;
}

const LOGPROBS = "message.output_text.logprobs";

/** The GenerateRequest for a body, with the plugin's defaults. */
function toGenerateRequest({ body, history }: Continued, grammar: RequestedGrammar | undefined, options: ResolvedOpenAIOptions, signal: AbortSignal): GenerateRequest {
  const { model: modelId, temperature, top_p: topP, top_k: topK, min_p: minP, seed, stop, tools } = body;
  const { presence_penalty: presencePenalty, frequency_penalty: frequencyPenalty, repetition_penalty: repetitionPenalty, logit_bias: logitBias, speculative } = body;
  const turns = [...history, ...body.input];
  const messages = body.instructions ? [{ role: "system" as const, content: body.instructions }, ...turns] : turns;
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

/** The pipeline's field names as this endpoint's: max_tokens is max_output_tokens here, a tool's fields sit flat (tools[0].parameters). */
function formatError(error: ErrorBody, status: number) {
  const formatted = toOpenAIError(error, status, "input");
  const { param } = formatted.error;
  if (param === "max_tokens") formatted.error.param = "max_output_tokens";
  else if (param !== null && /^tools\[\d+\]\.function\./.test(param)) formatted.error.param = param.replace(".function.", ".");
  return formatted;
}

/** Keeps a finished response with the conversation it ends. */
function keep({ body, history, keep }: Continued, response: ResponseObject, store: ResponseStore): void {
  if (keep) store.put(response, [...history, ...body.input, ...outputTurns(response.output)]);
}

async function whole(continued: Continued, request: GenerateRequest, grammar: RequestedGrammar | undefined, ctx: HandlerContext, { pipeline, counters, info, store }: Deps): Promise<HttpResponse> {
  const { body } = continued;
  const tools = toolParsing(pipeline, body.model, body.tools, pipelineToolChoice(body.tool_choice), body.parallel_tool_calls, body.max_tool_calls);
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
  const response = wholeResponse(responseSkeleton(newId(), body, continued.keep), result, parsed, request.logprobs !== undefined);
  keep(continued, response, store);
  return { json: response };
}

async function streamed(continued: Continued, request: GenerateRequest, grammar: RequestedGrammar | undefined, ctx: HandlerContext, { pipeline, counters, info, store }: Deps): Promise<HttpResponse> {
  const { body } = continued;
  const tools = toolParsing(pipeline, body.model, body.tools, pipelineToolChoice(body.tool_choice), body.parallel_tool_calls, body.max_tool_calls);
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
  const out = new ResponseEvents(responseSkeleton(newId(), body, continued.keep), logprobs);
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
        const closing = out.closing(event.result);
        keep(continued, out.final!, store); // kept before the last event: a client may name it at once
        yield* closing;
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

/** The kept response `id` names, or NOT_FOUND naming the field it came in. */
function kept(store: ResponseStore, id: string, field?: string): StoredResponse {
  const found = store.get(id);
  if (found) return found;
  const message = `Response with id '${id.slice(0, 128)}' not found${store.enabled ? " (this node keeps the last responses in memory only)" : " (this node keeps no responses)"}.`;
  throw field ? errors.invalidRequest(message, field) : errors.notFound(message);
}

/** POST /v1/responses, GET and DELETE /v1/responses/{id}, with this plugin instance's limits and defaults. */
export function responsesRoutes(options: ResolvedOpenAIOptions) {
  const create = defineRoute({
    method: "POST",
    path: "/v1/responses",
    schema: responsesRequestSchema(options),
    maxBodyBytes: options.maxBodyBytes,
    inject: { pipeline: PIPELINE, counters: OPENAI_COUNTERS, info: NODE_INFO, store: OPENAI_RESPONSE_STORE },
    formatError,
    handle: (req, ctx, deps) => {
      const body: ResponsesRequest = req.body;
      if (!deps.pipeline.hasModel(body.model)) throw modelNotFound(body.model, deps.pipeline);
      const history = body.previous_response_id ? kept(deps.store, body.previous_response_id, "previous_response_id").conversation : [];
      const continued: Continued = { body, history, keep: body.store !== false && deps.store.enabled };
      const grammar = responsesGrammar(body);
      const request = toGenerateRequest(continued, grammar, options, ctx.signal);
      return body.stream === true ? streamed(continued, request, grammar, ctx, deps) : whole(continued, request, grammar, ctx, deps);
    },
  });
  const retrieve = defineRoute({
    method: "GET",
    path: "/v1/responses/:id",
    inject: { store: OPENAI_RESPONSE_STORE },
    formatError,
    handle: (req, _ctx, { store }): HttpResponse => ({ json: kept(store, req.params.id).response }),
  });
  const remove = defineRoute({
    method: "DELETE",
    path: "/v1/responses/:id",
    inject: { store: OPENAI_RESPONSE_STORE },
    formatError,
    handle: (req, _ctx, { store }): HttpResponse => {
      const { id } = kept(store, req.params.id).response;
      store.delete(id);
      return { json: { id, object: "response", deleted: true } };
    },
  });
  return [create, retrieve, remove];
}
