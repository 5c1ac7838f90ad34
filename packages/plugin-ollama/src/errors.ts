/**
 * Coded errors in Ollama's shape, `{"error": "<message>"}`, sent with the HTTP status core gives
 * the code (400 bad request, 401 authentication, 404 unknown model or path, 429, 503, …). A
 * validation failure names its field as Ollama's request spells it ("options.temperature").
 */
import type { ErrorBody } from "@modelnode/core";

export interface OllamaErrorResponse {
  error: string;
}

/** The pipeline's field names (errors.invalidRequest's `field`) as this API's. */
const FIELDS: Record<string, string> = {
  maxTokens: "options.num_predict",
  temperature: "options.temperature",
  topP: "options.top_p",
  topK: "options.top_k",
  minP: "options.min_p",
  seed: "options.seed",
  stop: "options.stop",
  presencePenalty: "options.presence_penalty",
  frequencyPenalty: "options.frequency_penalty",
  repetitionPenalty: "options.repeat_penalty",
};

interface Issue {
  path?: unknown;
  message?: unknown;
}

/** "messages.0.content" → "messages[0].content"; "" → null. */
function fieldOf(path: unknown): string | null {
  if (typeof path !== "string" || path.length === 0) return null;
  return path.split(".").reduce((out, key) => (/^\d+$/.test(key) ? `${out}[${key}]` : out ? `${out}.${key}` : key), "");
}

/** One sentence per failing field (at most three), e.g. "invalid options.temperature: expected a number from 0 to 2". */
function validationMessage(details: unknown, fallback: string): string {
  const issues = (details as { issues?: unknown } | undefined)?.issues;
  if (!Array.isArray(issues) || issues.length === 0) return fallback;
  const seen = new Set<string>();
  const sentences: string[] = [];
  for (const issue of issues as Issue[]) {
    const field = fieldOf(issue.path);
    if (seen.has(field ?? "")) continue;
    seen.add(field ?? "");
    const text = String(issue.message ?? "invalid").replace(/[.]$/, "");
    sentences.push(field === null ? `invalid request: ${text}` : `invalid ${field}: ${text}`);
    if (sentences.length === 3) break;
  }
  return sentences.join("; ");
}

/** The Ollama-shaped body for one of core's error bodies. */
export function toOllamaError(error: ErrorBody, _status: number): OllamaErrorResponse {
  if (error.code === "VALIDATION_FAILED") return { error: validationMessage(error.details, error.message) };
  if (error.code === "MODEL_NOT_FOUND") {
    // Ollama's words ("model "x" not found"), which clients look for, and what is served instead.
    const { model_id: id, available } = (error.details ?? {}) as { model_id?: unknown; available?: unknown };
    const served = Array.isArray(available) && available.length > 0 ? ` (this node serves: ${available.join(", ")})` : "";
    return { error: `model "${String(id ?? "")}" not found${served}` };
  }
  const field = (error.details as { field?: unknown } | undefined)?.field;
  if (typeof field === "string" && (error.code === "INVALID_REQUEST" || error.code === "INVALID_GRAMMAR")) {
    return { error: `invalid ${FIELDS[field] ?? field}: ${error.message}` };
  }
  return { error: error.message };
}
