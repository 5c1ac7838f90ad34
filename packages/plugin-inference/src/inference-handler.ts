/**
 * inference_request → inference_response, or with `stream: true` a series of inference_chunk
 * frames followed by the inference_response. The connection's signal goes to the pipeline, so
 * a closed connection (or a draining node) cancels the generation.
 */
import {
  inject,
  MessageHandler,
  modelNotFound,
  PIPELINE,
  reply,
  type GenerateRequest,
  type GenerationResult,
  type HandlerContext,
  type ModelPipeline,
  type Reply,
} from "@modelnode/core";
import type { InferenceCounters } from "./counters.js";
import { INFERENCE_COUNTERS, INFERENCE_OPTIONS, type ResolvedInferenceOptions } from "./options.js";
import { inferenceRequestSchema, type InferenceChunk, type InferenceRequest, type InferenceResponse } from "./schema.js";

/** The schema comes from this node's INFERENCE_OPTIONS, so each plugin instance has its own limits. */
@MessageHandler("inference_request", {
  schema: (resolve) => inferenceRequestSchema(resolve(INFERENCE_OPTIONS)),
  replyType: "inference_response",
})
export class InferenceRequestHandler {
  constructor(
    @inject(PIPELINE) private readonly pipeline: ModelPipeline,
    @inject(INFERENCE_OPTIONS) private readonly options: ResolvedInferenceOptions,
    @inject(INFERENCE_COUNTERS) private readonly counters: InferenceCounters,
  ) {}

  handle(msg: InferenceRequest, ctx: HandlerContext): Promise<InferenceResponse> | AsyncIterable<InferenceResponse | Reply<InferenceChunk>> {
    if (!this.pipeline.hasModel(msg.model_id)) throw modelNotFound(msg.model_id, this.pipeline);
    const request = this.toGenerateRequest(msg, ctx.signal);
    return msg.stream === true ? this.streamed(msg.model_id, request) : this.whole(msg.model_id, request);
  }

  private async whole(modelId: string, request: GenerateRequest): Promise<InferenceResponse> {
    this.counters.inFlight++;
    try {
      return this.finish(modelId, await this.pipeline.generate(request));
    } finally {
      this.counters.inFlight--;
    }
  }

  private async *streamed(modelId: string, request: GenerateRequest): AsyncIterable<InferenceResponse | Reply<InferenceChunk>> {
    this.counters.inFlight++;
    this.counters.streams++;
    let done = false;
    try {
      let index = 0;
      // Leaving this loop early (the client went away) returns the pipeline's iterator too.
      for await (const event of this.pipeline.stream(request)) {
        if (event.kind === "done") {
          done = true;
          yield this.finish(modelId, event.result);
        } else if (event.text.length > 0) {
          yield reply<InferenceChunk>("inference_chunk", { model_id: modelId, index: index++, text: event.text });
        }
      }
    } finally {
      this.counters.inFlight--;
      if (!done) this.counters.finished.cancelled++;
    }
  }

  private finish(modelId: string, result: GenerationResult): InferenceResponse {
    this.counters.finished[result.finishReason] = (this.counters.finished[result.finishReason] ?? 0) + 1;
    this.counters.completionTokens += result.usage.completionTokens;
    return {
      model_id: modelId,
      text: result.text,
      finish_reason: result.finishReason,
      usage: { prompt_tokens: result.usage.promptTokens, completion_tokens: result.usage.completionTokens },
    };
  }

  private toGenerateRequest(msg: InferenceRequest, signal: AbortSignal): GenerateRequest {
    const d = this.options.defaults;
    const request: GenerateRequest = {
      modelId: msg.model_id,
      prompt: msg.prompt,
      maxTokens: msg.max_tokens ?? d.maxTokens,
      temperature: msg.temperature ?? d.temperature,
      topP: msg.top_p ?? d.topP,
      topK: msg.top_k ?? d.topK,
      signal,
    };
    if (msg.seed !== undefined) request.seed = msg.seed;
    if (msg.stop !== undefined) request.stop = typeof msg.stop === "string" ? [msg.stop] : msg.stop;
    return request;
  }
}
