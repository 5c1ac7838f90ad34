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
} from "@modelnode/core";
import type { InferenceCounters } from "./counters.js";
import { trackRequest, type TrackedRequest } from "./in-flight.js";
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
    return msg.stream === true ? this.streamed(msg.model_id, request, grammar, tracked) : this.whole(msg.model_id, request, grammar, tracked);
  }

  private async whole(modelId: string, request: GenerateRequest, grammar: RequestedGrammar | undefined, tracked: TrackedRequest): Promise<InferenceResponse> {
    this.counters.inFlight++;
    try {
      return this.finish(modelId, await this.pipeline.generate(request), request.logprobs !== undefined);
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
  ): AsyncIterable<InferenceResponse | ChunkReply> {
    this.counters.inFlight++;
    this.counters.streams++;
    let done = false;
    try {
      let index = 0;
      // Leaving this loop early (the client went away) returns the pipeline's iterator too.
      for await (const event of this.pipeline.stream(request)) {
        if (event.kind === "done") {
          done = true;
          tracked.release(); // finished: a cancel from now on is REQUEST_NOT_FOUND
          yield this.finish(modelId, event.result, request.logprobs !== undefined);
        } else if (event.text.length > 0) {
          const chunk: InferenceChunk = { model_id: modelId, index: index++, text: event.text };
          if (request.logprobs !== undefined) chunk.logprobs = wireLogprobs(event.logprobs ?? []);
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

  private finish(modelId: string, result: GenerationResult, logprobs: boolean): InferenceResponse {
    this.counters.recordFinish(result);
    const response: InferenceResponse = {
      model_id: modelId,
      text: result.text,
      finish_reason: result.finishReason,
      usage: { prompt_tokens: result.usage.promptTokens, completion_tokens: result.usage.completionTokens },
    };
    if (logprobs) response.logprobs = wireLogprobs(result.logprobs ?? []);
    return response;
  }
}

/** The message in the pipeline's names (core's one mapping, with this plugin's defaults). */
function toGenerateRequest(msg: InferenceRequest, grammar: RequestedGrammar | undefined, options: ResolvedInferenceOptions, signal: AbortSignal): GenerateRequest {
  const { model_id: modelId, prompt, messages, max_tokens: maxTokens, temperature, top_p: topP, top_k: topK, min_p: minP, seed, stop } = msg;
  const { presence_penalty: presencePenalty, frequency_penalty: frequencyPenalty, repetition_penalty: repetitionPenalty, logit_bias: logitBias } = msg;
  const logprobs = msg.logprobs === true ? (msg.top_logprobs ?? 0) : undefined;
  // The schema lets exactly one of prompt and messages through.
  return buildGenerateRequest(
    { modelId, prompt, messages, maxTokens, temperature, topP, topK, minP, presencePenalty, frequencyPenalty, repetitionPenalty, logitBias, seed, stop, logprobs, ...(grammar ? { grammar: grammar.grammar } : {}) },
    options.defaults,
    signal,
  );
}

/** The pipeline's log probabilities in the protocol's names. */
function wireLogprobs(entries: readonly TokenLogprob[]): TokenLogprobEntry[] {
  const alternative = ({ id, token, logprob, bytes }: TokenLogprob) => ({ token, token_id: id, logprob, bytes });
  return entries.map((entry) => ({ ...alternative(entry), top_logprobs: (entry.top ?? []).map(alternative) }));
}
