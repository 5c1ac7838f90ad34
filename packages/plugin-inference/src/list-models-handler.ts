/**
 * list_models → list_models_response: the models this node serves, for clients to pick from
 * (with has_chat_template when the pipeline says whether a chat gets the model's own template,
 * and alias_of for an id that is another name of a model served under another id).
 */
import { inject, MessageHandler, PIPELINE, type ModelPipeline } from "@modelnode/core";
import { listModelsResponseSchema, listModelsSchema, type ListModelsResponse } from "./schema.js";

@MessageHandler("list_models", { schema: listModelsSchema, replyType: "list_models_response", replySchema: listModelsResponseSchema })
export class ListModelsHandler {
  constructor(@inject(PIPELINE) private readonly pipeline: ModelPipeline) {}

  handle(): ListModelsResponse {
    return {
      models: this.pipeline.listModels().map((m) => ({
        id: m.id,
        context_length: m.contextLength,
        vocab_size: m.vocabSize,
        ...(m.description !== undefined ? { description: m.description } : {}),
        ...(m.hasChatTemplate !== undefined ? { has_chat_template: m.hasChatTemplate } : {}),
        ...(m.aliasOf !== undefined ? { alias_of: m.aliasOf } : {}),
        ...(m.state !== undefined ? { state: m.state } : {}),
        ...(m.sizeBytes !== undefined ? { size_bytes: m.sizeBytes } : {}),
      })),
    };
  }
}
