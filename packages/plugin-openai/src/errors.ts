/**
 * Coded errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`, sent with the
 * HTTP status core gives the code (400 validation, 401 authentication, 404 unknown model, 429 rate
 * limits, 503 busy or shutting down, …), so that OpenAI's SDKs raise their usual error classes.
 */
import type { ErrorBody } from "@modelnode/core";

export interface OpenAIError {
  message: string;
  /** "invalid_request_error", "authentication_error", "permission_error", "rate_limit_error" or "server_error". */
  type: string;
  /** The request field at fault (e.g. "temperature", "messages[0].content"), or null. */
  param: string | null;
  /** OpenAI's code where one fits ("model_not_found", "invalid_api_key", …); otherwise this node's code in lower case. */
  code: string | null;
}

export interface OpenAIErrorResponse {
  error: OpenAIError;
}

/** Our codes whose OpenAI counterpart has another name. */
const CODES: Record<string, string> = {
  UNAUTHENTICATED: "invalid_api_key",
  MODEL_NOT_FOUND: "model_not_found",
  CONTEXT_LENGTH_EXCEEDED: "context_length_exceeded",
  RATE_LIMITED: "rate_limit_exceeded",
};

/** The pipeline's field names (errors.invalidRequest's `field`) as the API's. */
const FIELDS: Record<string, string> = {
  maxTokens: "max_tokens",
  topP: "top_p",
  topK: "top_k",
  minP: "min_p",
  presencePenalty: "presence_penalty",
  frequencyPenalty: "frequency_penalty",
  repetitionPenalty: "repetition_penalty",
  logitBias: "logit_bias",
};

function typeOf(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

/** "messages.0.content" → "messages[0].content"; "" → null. */
function paramOf(path: unknown): string | null {
  if (typeof path !== "string" || path.length === 0) return null;
  return path.split(".").reduce((out, key) => (/^\d+$/.test(key) ? `${out}[${key}]` : out ? `${out}.${key}` : key), "");
}

interface Issue {
  path?: unknown;
  message?: unknown;
}

function issuesOf(details: unknown): Issue[] {
  const issues = (details as { issues?: unknown } | undefined)?.issues;
  return Array.isArray(issues) ? (issues as Issue[]) : [];
}

/** One sentence per failing field (at most three), e.g. "Invalid 'temperature': expected a number from 0 to 2." */
function validationMessage(issues: Issue[], fallback: string): string {
  if (issues.length === 0) return fallback;
  const seen = new Set<string>();
  const sentences: string[] = [];
  for (const issue of issues) {
    const param = paramOf(issue.path);
    const key = param ?? "";
    if (seen.has(key)) continue;
    seen.add(key);
    const text = String(issue.message ?? "invalid").replace(/[.]$/, "");
    sentences.push(param === null ? `Invalid request body: ${text}.` : `Invalid '${param}': ${text}.`);
    if (sentences.length === 3) break;
  }
  return sentences.join(" ");
}

/**
 * The OpenAI-shaped body for one of core's error bodies. `input` names the field holding the text
 * the route generates from ("prompt" or "messages"), the param of CONTEXT_LENGTH_EXCEEDED.
 */
export function toOpenAIError(error: ErrorBody, status: number, input?: string): OpenAIErrorResponse {
  const details = error.details as { field?: unknown } | undefined;
  let param: string | null = null;
  let message = error.message;
  if (error.code === "VALIDATION_FAILED") {
    const issues = issuesOf(error.details);
    param = paramOf(issues[0]?.path);
    message = validationMessage(issues, error.message);
  } else if (error.code === "MODEL_NOT_FOUND") {
    param = "model";
  } else if (error.code === "CONTEXT_LENGTH_EXCEEDED") {
    param = input ?? null;
  } else if (typeof details?.field === "string") {
    param = FIELDS[details.field] ?? details.field;
  }
  return { error: { message, type: typeOf(status), param, code: CODES[error.code] ?? error.code.toLowerCase() } };
}
