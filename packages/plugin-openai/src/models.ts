/** GET /v1/models and /v1/models/{model}: one model in OpenAI's shape. */
import type { ModelInfo } from "@modelnode/core";

/**
 * One model as /v1/models shows it; `state` (loaded, loading, unloaded) and `size_bytes` when the
 * pipeline loads models on demand (docs/models.md), as LM Studio's and vLLM's lists add fields.
 */
export interface ModelObject {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  state?: ModelInfo["state"];
  size_bytes?: number;
}

export function modelObject(m: ModelInfo, created: number, ownedBy: string): ModelObject {
  return { id: m.id, object: "model", created, owned_by: ownedBy, ...(m.state ? { state: m.state } : {}), ...(m.sizeBytes !== undefined ? { size_bytes: m.sizeBytes } : {}) };
}
