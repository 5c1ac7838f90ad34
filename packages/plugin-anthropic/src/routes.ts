/**
 * POST /v1/messages and POST /v1/messages/count_tokens on the node's port. A message goes to the
 * model pipeline as the OpenAI plugin's chat does (core's buildGenerateRequest, the chat rendered
 * with the model's own template, system first), with the request's `ctx.signal`: a client that
 * goes away cancels its generation.
 *
 * A streamed request is started before the response's headers go out: the pipeline refuses a
 * request (unknown model, prompt too long, no room) on the stream's first step, so those errors
 * still reach the client as an HTTP error status; later ones become an `error` event.
 */
import { randomBytes } from "node:crypto";
import {
  buildGenerateRequest,
  defineRoute,
  errors,
  modelNotFound,
  NODE_INFO,
  PIPELINE,
  type GenerateRequest,
  type GenerationEvent,
  type HandlerContext,
  type HttpResponse,
  type ModelPipeline,
  type NodeInfo,
  parseToolCalls,
  ToolCallParser,
  type ToolCallEvent,
  type ToolCallParserOptions,
} from "@modelnode/core";
import type { AnthropicCounters } from "./counters.js";
import { toAnthropicError } from "./errors.js";
import { ANTHROPIC_COUNTERS, type ResolvedAnthropicOptions } from "./options.js";
import { chatOf, countTokensRequestSchema, messagesRequestSchema, type CountTokensRequest, type MessagesRequest } from "./schema.js";
import { wholeMessage, type AnthropicStreamEvent } from "./shapes.js";
import { StreamBlocks } from "./stream-blocks.js";
import { pipelineChoice, toolParsing } from "./tools.js";

interface Deps {
  pipeline: ModelPipeline;
  counters: AnthropicCounters;
  info: NodeInfo;
}

const newId = () => `msg_${randomBytes(12).toString("hex")}`;

/** The GenerateRequest for a body, with this plugin's sampling defaults. */
export function toGenerateRequest(body: MessagesRequest, options: ResolvedAnthropicOptions, signal: AbortSignal): GenerateRequest {
  const { model: modelId, max_tokens: maxTokens, temperature, top_p: topP, top_k: topK, stop_sequences: stop, tools, tool_choice: choice } = body;
  const toolFields = { tools, toolChoice: pipelineChoice(choice), parallelToolCalls: choice?.disable_parallel_tool_use === true ? false : undefined };
  return buildGenerateRequest(
    { modelId, messages: chatOf(body), maxTokens, temperature, topP, topK, ...(stop && stop.length > 0 ? { stop } : {}), ...toolFields },
    { maxTokens, ...options.defaults },
    signal,
  );
}

/** The tools the chat template renders: none with tool_choice "none". */
const renderedTools = ({ tools, toolChoice }: Pick<GenerateRequest, "tools" | "toolChoice">) => (toolChoice === "none" ? undefined : tools);

/** A cancelled generation: its client left (nobody reads this), or the node is shutting down (503: retry elsewhere). */
function cancelledError(ctx: HandlerContext, info: NodeInfo) {
  return ctx.signal.aborted && info.status() !== "draining"
    ? errors.cancelled("The request was cancelled before its generation finished.")
    : errors.shuttingDown("The generation was cancelled: the node is shutting down.");
}

async function whole(body: MessagesRequest, request: GenerateRequest, tools: ToolCallParserOptions | undefined, ctx: HandlerContext, { pipeline, counters, info }: Deps): Promise<HttpResponse> {
  counters.inFlight++;
  let result;
  try {
    result = await pipeline.generate(request);
  } finally {
    counters.inFlight--;
  }
  counters.recordFinish(result);
  if (result.finishReason === "cancelled") throw cancelledError(ctx, info);
  return { json: wholeMessage(newId(), body.model, result, tools ? parseToolCalls(result.text, tools) : undefined) };
}

async function streamed(body: MessagesRequest, request: GenerateRequest, tools: ToolCallParserOptions | undefined, ctx: HandlerContext, { pipeline, counters, info }: Deps): Promise<HttpResponse> {
  // message_start carries the input tokens: the chat counted as the generation will encode it.
  const inputTokens = pipeline.countChatTokens ? await pipeline.countChatTokens(body.model, request.messages ?? [], renderedTools(request)) : 0;
  counters.inFlight++;
  counters.streams++;
  const iterator = pipeline.stream(request)[Symbol.asyncIterator]();
  let first: IteratorResult<GenerationEvent>;
  try {
    first = await iterator.next(); // the pipeline's refusals are thrown here, before any header is sent
  } catch (error) {
    counters.inFlight--;
    throw error;
  }
  const id = newId();
  const blocks = new StreamBlocks(tools === undefined);
  const parser = tools ? new ToolCallParser(tools) : undefined;
  /** The blocks' events for what the parser read: text, and whole calls. */
  const read = (items: ToolCallEvent[]) => items.flatMap((item) => (item.kind === "call" ? blocks.call(item.call) : blocks.text(item.text)));
  async function* events(): AsyncGenerator<AnthropicStreamEvent> {
    let finished = false;
    try {
      yield* blocks.opening(id, body.model, inputTokens);
      for (let step = first; !step.done; step = await iterator.next()) {
        const event = step.value;
        if (event.kind === "text") {
          yield* parser ? read(parser.push(event.text)) : blocks.text(event.text);
          continue;
        }
        finished = true;
        counters.recordFinish(event.result);
        if (event.result.finishReason === "cancelled") throw cancelledError(ctx, info);
        if (parser) yield* read(parser.end());
        yield* blocks.closing(event.result);
      }
    } finally {
      counters.inFlight--;
      if (!finished) counters.recordAbandoned();
      // Stopped early (the client left): returning the pipeline's iterator cancels the generation.
      await iterator.return?.();
    }
  }
  return { events: events(), eventName: (event) => (event as { type?: string }).type };
}

/** The two routes, with this plugin instance's limits and defaults. */
export function anthropicRoutes(options: ResolvedAnthropicOptions) {
  const deps = { pipeline: PIPELINE, counters: ANTHROPIC_COUNTERS, info: NODE_INFO };

  const messages = defineRoute({
    method: "POST",
    path: "/v1/messages",
    schema: messagesRequestSchema(options),
    maxBodyBytes: options.maxBodyBytes,
    inject: deps,
    formatError: toAnthropicError,
    handle: (req, ctx, d) => {
      const body: MessagesRequest = req.body;
      if (!d.pipeline.hasModel(body.model)) throw modelNotFound(body.model, d.pipeline);
      const request = toGenerateRequest(body, options, ctx.signal);
      const tools = toolParsing(body, d.pipeline);
      return body.stream === true ? streamed(body, request, tools, ctx, d) : whole(body, request, tools, ctx, d);
    },
  });

  const countTokens = defineRoute({
    method: "POST",
    path: "/v1/messages/count_tokens",
    schema: countTokensRequestSchema(options),
    maxBodyBytes: options.maxBodyBytes,
    inject: { pipeline: PIPELINE },
    formatError: toAnthropicError,
    handle: async (req, _ctx, { pipeline }): Promise<HttpResponse> => {
      const body: CountTokensRequest = req.body;
      if (!pipeline.hasModel(body.model)) throw modelNotFound(body.model, pipeline);
      if (!pipeline.countChatTokens) throw errors.invalidRequest("This node's pipeline cannot count a chat's tokens.", "messages");
      const tools = renderedTools({ tools: body.tools, toolChoice: pipelineChoice(body.tool_choice) });
      return { json: { input_tokens: await pipeline.countChatTokens(body.model, chatOf(body), tools) } };
    },
  });

  return [messages, countTokens];
}
