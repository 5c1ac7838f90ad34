/**
 * inference_request → inference_response, or with `stream: true` a series of inference_chunk
 * frames followed by the inference_response. The request continues a `prompt`, or a chat
 * (`messages`) that the pipeline renders with the model's chat template.
 *
 * Each request is put on its connection's list of requests in flight (in-flight.ts) under its
 * header's message_id, with an AbortController that `inference_cancel` aborts; the controller
 * also follows the connection's signal, so a closed connection (or a draining node) cancels the
 * generation too. It leaves the list as soon as the pipeline has its result.
 *
 * `response_format` becomes the request's grammar; an INVALID_GRAMMAR names the field as the
 * client wrote it ("response_format.json_schema.schema", …).
 *
 * With `resumable: true` each chunk carries resume data, and `resume` continues a generation from
 * it (resume-data.ts; docs/protocol.md, "Resuming a stream").
 */
import {
  buildGenerateRequest,
  grammarOfResponseFormat,
  inject,
  MessageHandler,
  modelNotFound,
  PIPELINE,
  renameGrammarField,
  reply,
  type GenerateRequest,
  type GenerationResult,
  type HandlerContext,
  type ModelPipeline,
  type Reply,
  type RequestedGrammar,
  type TokenLogprob,
  ToolCallParser,
  type ToolCall,
  type ToolCallParserOptions,
} from "@modelnode/core";
import type { InferenceCounters } from "./counters.js";
import { trackRequest, type TrackedRequest } from "./in-flight.js";
import { ChunkResume, resumeFrom } from "./resume-data.js";
import { INFERENCE_COUNTERS, INFERENCE_OPTIONS, type ResolvedInferenceOptions } from "./options.js";
import {
  inferenceChunkSchema,
  inferenceRequestSchema,
  inferenceResponseSchema,
  type InferenceChunk,
  type InferenceRequest,
  type InferenceResponse,
  type TokenLogprobEntry,
} from "./schema.js";

/** A streamed frame: the Reply type names its message_type, which the handler declares in `replies`. */
type ChunkReply = Reply<InferenceChunk, "inference_chunk">;

/** The schema comes from this node's INFERENCE_OPTIONS, so each plugin instance has its own limits. */
@MessageHandler("inference_request", {
  schema: (resolve) => inferenceRequestSchema(resolve(INFERENCE_OPTIONS)),
  replyType: "inference_response",
  replySchema: inferenceResponseSchema,
  replies: { inference_chunk: inferenceChunkSchema },
})
export class InferenceRequestHandler {
  constructor(
    @inject(PIPELINE) private readonly pipeline: ModelPipeline,
    @inject(INFERENCE_OPTIONS) private readonly options: ResolvedInferenceOptions,
    @inject(INFERENCE_COUNTERS) private readonly counters: InferenceCounters,
  ) {}

  handle(msg: InferenceRequest, ctx: HandlerContext): Promise<InferenceResponse> | AsyncIterable<InferenceResponse | ChunkReply> {
    if (!this.pipeline.hasModel(msg.model_id)) throw modelNotFound(msg.model_id, this.pipeline);
    // Tracked before this returns, so that a cancel sent right behind the request finds it.
    const tracked = trackRequest(ctx);
    let request: GenerateRequest;
    const grammar = grammarOfResponseFormat(msg.response_format);
    try {
      request = toGenerateRequest(msg, grammar, this.options, tracked.signal);
    } catch (error) {
      tracked.release();
      throw error;
    }
    const tools = toolParsing(msg, this.pipeline);
    if (msg.stream !== true) return this.whole(msg.model_id, request, grammar, tracked, tools);
    const resume = msg.resumable === true || request.resume !== undefined ? new ChunkResume(request.resume, msg.resumable === true) : undefined;
    return this.streamed(msg.model_id, request, grammar, tracked, tools, resume);
  }

  private async whole(modelId: string, request: GenerateRequest, grammar: RequestedGrammar | undefined, tracked: TrackedRequest, tools: ToolCallParserOptions | undefined): Promise<InferenceResponse> {
    this.counters.inFlight++;
    try {
      const result = await this.pipeline.generate(request);
      if (!tools) return this.finish(modelId, result, request.logprobs !== undefined);
      const parser = new ToolCallParser(tools);
      const events = [...parser.push(result.text), ...parser.end()];
      const calls = events.flatMap((event) => (event.kind === "call" ? [event.call] : []));
      const text = events.map((event) => (event.kind === "content" ? event.text : "")).join("");
      return this.finish(modelId, result, request.logprobs !== undefined, { text: calls.length > 0 && text.trim() === "" ? "" : text, calls });
    } catch (error) {
      throw renameGrammarField(error, grammar);
    } finally {
      tracked.release();
      this.counters.inFlight--;
    }
  }

  private async *streamed(
    modelId: string,
    request: GenerateRequest,
    grammar: RequestedGrammar | undefined,
    tracked: TrackedRequest,
    tools: ToolCallParserOptions | undefined,
    resume?: ChunkResume,
  ): AsyncIterable<InferenceResponse | ChunkReply> {
    this.counters.inFlight++;
    this.counters.streams++;
    let done = false;
    const logprobs = request.logprobs !== undefined;
    // With tools, the text goes through the parser: text as it is decided, each call whole.
    const parser = tools ? new ToolCallParser(tools) : undefined;
    const calls: ToolCall[] = [];
    let text = "";
    let held: TokenLogprob[] = [];
    try {
      let index = 0;
      const chunks = function* (events: ReturnType<ToolCallParser["push"]>): Generator<ChunkReply> {
        for (const event of events) {
          const chunk: InferenceChunk = { model_id: modelId, index: index++, text: "" };
          if (event.kind === "call") {
            calls.push(event.call);
            chunk.tool_call = { index: event.index, ...event.call };
          } else {
            chunk.text = event.text;
            text += event.text;
            if (logprobs) chunk.logprobs = wireLogprobs(held);
            held = [];
          }
          yield reply("inference_chunk", chunk);
        }
      };
      // Leaving this loop early (the client went away) returns the pipeline's iterator too.
      for await (const event of this.pipeline.stream(request)) {
        if (event.kind === "done") {
          if (parser) yield* chunks(parser.end());
          done = true;
          tracked.release(); // finished: a cancel from now on is REQUEST_NOT_FOUND
          yield this.finish(modelId, event.result, logprobs, parser ? { text, calls } : undefined);
        } else if (parser) {
          if (logprobs) held.push(...(event.logprobs ?? []));
          yield* chunks(parser.push(event.text));
        } else {
          resume?.take(event);
          if (event.text.length === 0) continue;
          const chunk: InferenceChunk = { model_id: modelId, index: index++, text: event.text };
          if (logprobs) chunk.logprobs = wireLogprobs(event.logprobs ?? []);
          resume?.stamp(chunk);
          yield reply("inference_chunk", chunk);
        }
      }
    } catch (error) {
      throw renameGrammarField(error, grammar);
    } finally {
      tracked.release();
      this.counters.inFlight--;
      if (!done) this.counters.recordAbandoned();
    }
  }

  /** `parsed`: with tools, the text outside the calls and the calls (then finish_reason "tool_calls" where it stopped after calls). */
  private finish(modelId: string, result: GenerationResult, logprobs: boolean, parsed?: { text: string; calls: ToolCall[] }): InferenceResponse {
    this.counters.recordFinish(result);
    const calls = parsed?.calls ?? [];
    const response: InferenceResponse = {
      model_id: modelId,
      text: parsed ? parsed.text : result.text,
      finish_reason: calls.length > 0 && result.finishReason === "stop" ? "tool_calls" : result.finishReason,
      usage: { prompt_tokens: result.usage.promptTokens, completion_tokens: result.usage.completionTokens },
    };
    if (result.usage.cachedTokens !== undefined) response.usage.cached_tokens = result.usage.cachedTokens;
    if (calls.length > 0) response.tool_calls = calls;
    if (logprobs) response.logprobs = wireLogprobs(result.logprobs ?? []);
    return response;
  }
}

/**
 * How to read the reply's tool calls: in the format of the model's family, only the functions it
 * may call, at most one with parallel_tool_calls false or a named function. Undefined: no tools,
 * tool_choice "none", or a pipeline that takes no tools.
 */
function toolParsing(msg: InferenceRequest, pipeline: ModelPipeline): ToolCallParserOptions | undefined {
  const tools = msg.tools ?? [];
  const choice = msg.tool_choice ?? "auto";
  if (tools.length === 0 || choice === "none") return undefined;
  const format = pipeline.listModels().find((m) => m.id === msg.model_id)?.toolCallFormat;
  if (!format) return undefined;
  const names = new Set(typeof choice === "object" ? [choice.function.name] : tools.map((tool) => tool.function.name));
  return { format, names, ...(msg.parallel_tool_calls === false || typeof choice === "object" ? { maxCalls: 1 } : {}) };
}

/** The message in the pipeline's names (core's one mapping, with this plugin's defaults). */
function toGenerateRequest(msg: InferenceRequest, grammar: RequestedGrammar | undefined, options: ResolvedInferenceOptions, signal: AbortSignal): GenerateRequest {
  const { model_id: modelId, prompt, messages, max_tokens: maxTokens, temperature, top_p: topP, top_k: topK, min_p: minP, seed, stop } = msg;
  const { presence_penalty: presencePenalty, frequency_penalty: frequencyPenalty, repetition_penalty: repetitionPenalty, logit_bias: logitBias } = msg;
  const logprobs = msg.logprobs === true ? (msg.top_logprobs ?? 0) : undefined;
  const { tools, tool_choice: toolChoice, parallel_tool_calls: parallelToolCalls, speculative } = msg;
  // The schema lets exactly one of prompt and messages through.
  const request = buildGenerateRequest(
    { modelId, prompt, messages, tools, toolChoice, parallelToolCalls, maxTokens, temperature, topP, topK, minP, presencePenalty, frequencyPenalty, repetitionPenalty, logitBias, seed, stop, logprobs, speculative, ...(grammar ? { grammar: grammar.grammar } : {}) },
    options.defaults,
    signal,
  );
  if (msg.resume) request.resume = resumeFrom(msg.resume);
  return request;
}

/** The pipeline's log probabilities in the protocol's names. */
function wireLogprobs(entries: readonly TokenLogprob[]): TokenLogprobEntry[] {
  const alternative = ({ id, token, logprob, bytes }: TokenLogprob) => ({ token, token_id: id, logprob, bytes });
  return entries.map((entry) => ({ ...alternative(entry), top_logprobs: (entry.top ?? []).map(alternative) }));
}
