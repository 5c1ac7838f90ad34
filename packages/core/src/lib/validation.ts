/** Turns zod issues into VALIDATION_FAILED with bounded, input-free details. */
import type { ZodError } from "zod";
import { errors, type ProtocolError } from "./errors.js";

const MAX_ISSUES = 10;
const MAX_TEXT = 200;

export interface FieldIssue {
  /** Dotted path of the failing field, e.g. "header.message_id" or "input_tensors.input_ids.3". */
  path: string;
  code: string;
  message: string;
}

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

export function validationError(error: ZodError, prefix: (string | number)[] = []): ProtocolError {
  const issues: FieldIssue[] = error.issues.slice(0, MAX_ISSUES).map((issue) => ({
    path: clip([...prefix, ...issue.path.map(String)].join(".")),
    code: issue.code,
    message: clip(issue.message),
  }));
  const fields = [...new Set(issues.map((i) => i.path))];
  return errors.validationFailed(fields, {
    issues,
    ...(error.issues.length > MAX_ISSUES ? { truncated: error.issues.length - MAX_ISSUES } : {}),
  });
}
