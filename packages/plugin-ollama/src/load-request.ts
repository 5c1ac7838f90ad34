/**
 * Ollama's load and unload requests: /api/generate without a prompt (or /api/chat without
 * messages) loads the model, and with `keep_alive: 0` unloads it at once. A pipeline that loads
 * models on demand (ModelPipeline.loadModel / unloadModel) does so; one whose models are always
 * loaded has nothing to do and answers that the model is loaded.
 */
import type { HttpResponse, ModelPipeline } from "@modelnode/core";
import { message, type Endpoint } from "./generate.js";
import { keepAliveOf } from "./keep-alive.js";

/** Loads or unloads `modelId` as the body's `keep_alive` says; the answer is Ollama's (`done_reason` "load" or "unload"). */
export async function loadOrUnload(endpoint: Endpoint, model: string, modelId: string, keepAlive: number | string | null | undefined, pipeline: ModelPipeline): Promise<HttpResponse> {
  const { keepAliveMs } = keepAliveOf(keepAlive);
  if (keepAliveMs === 0 && pipeline.unloadModel) {
    await pipeline.unloadModel(modelId);
    return { json: { ...message(endpoint, model, "", true), done_reason: "unload" } };
  }
  await pipeline.loadModel?.(modelId, keepAliveMs);
  return { json: { ...message(endpoint, model, "", true), done_reason: "load" } };
}
