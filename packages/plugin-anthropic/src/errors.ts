/**
 * Coded errors in Anthropic's shape: `{"type": "error", "error": {"type", "message"}}`, sent with
 * the HTTP status core gives the code, so that Anthropic's SDKs raise their usual error classes
 * (400 BadRequestError, 401 AuthenticationError, 404 NotFoundError, 429 RateLimitError, …).
 */
import type { ErrorBody } from "@modelnode/core";

export interface AnthropicErrorResponse {
  type: "error";
  error: { type: string; message: string };
}

/** Anthropic's error type for a status. */
export function errorTypeOf(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 413) return "request_too_large";
  if (status === 429) return "rate_limit_error";
  if (status === 503) return "overloaded_error";
  if (status >= 500) return "api_error";
  return "invalid_request_error";
}

/** The pipeline's field names (errors.invalidRequest's `field`) as the API's. */
const FIELDS: Record<string, string> = { maxTokens: "max_tokens", topP: "top_p", topK: "top_k", stop: "stop_sequences" };

interface Issue {
  path?: unknown;
  message?: unknown;
}

/** One "field: problem" clause per failing field (at most three), e.g. "temperature: expected a number from 0 to 1". */
function validationMessage(details: unknown, fallback: string): string {
  const issues = (details as { issues?: unknown } | undefined)?.issues;
  if (!Array.isArray(issues) || issues.length === 0) return fallback;
  const seen = new Set<string>();
  const clauses: string[] = [];
  for (const issue of issues as Issue[]) {
    const path = typeof issue.path === "string" && issue.path.length > 0 ? issue.path : "body";
    if (seen.has(path)) continue;
    seen.add(path);
    clauses.push(`${path}: ${String(issue.message ?? "invalid").replace(/[.]$/, "")}`);
    if (clauses.length === 3) break;
  }
  return clauses.join("; ");
}

/** The Anthropic-shaped body for one of core's error bodies. */
export function toAnthropicError(error: ErrorBody, status: number): AnthropicErrorResponse {
  let message = error.message;
  if (error.code === "VALIDATION_FAILED") message = validationMessage(error.details, error.message);
  else {
    const field = (error.details as { field?: unknown } | undefined)?.field;
    if (typeof field === "string") message = `${FIELDS[field] ?? field}: ${message}`;
  }
  return { type: "error", error: { type: errorTypeOf(status), message } };
}
