// Core's error bodies in Anthropic's shape: the type per status, validation issues as "field: problem".
import { test } from "node:test";
import assert from "node:assert/strict";
import { errors, httpStatusOf } from "@modelnode/core";
import { toAnthropicError } from "../src/index.js";

const shaped = (error: { code: string; message: string; details?: unknown }) => toAnthropicError({ code: error.code, message: error.message, details: error.details } as never, httpStatusOf(error.code));

test("each coded error gets Anthropic's type for its status", () => {
  assert.deepEqual(
    [
      errors.modelNotFound("x", ["tiny"]),
      errors.authorizationInvalid(),
      errors.busy("No room."),
      errors.shuttingDown(),
      errors.rateLimited(),
      errors.payloadTooLarge(10),
      errors.contextLengthExceeded("Too long."),
      errors.internal(),
    ].map((e) => shaped(e).error.type),
    ["not_found_error", "authentication_error", "overloaded_error", "overloaded_error", "rate_limit_error", "request_too_large", "invalid_request_error", "api_error"],
  );
  assert.equal(shaped(errors.internal()).type, "error");
});

test("a pipeline's refusal names the API's field; validation lists each failing field once", () => {
  assert.equal(shaped(errors.invalidRequest("Too many tokens.", "maxTokens")).error.message, "max_tokens: Too many tokens.");
  assert.equal(shaped(errors.invalidRequest("Bad stop.", "stop")).error.message, "stop_sequences: Bad stop.");
  const issues = [
    { path: "temperature", message: "expected a number from 0 to 1" },
    { path: "temperature", message: "again" },
    { path: "", message: "expected a JSON object." },
  ];
  assert.deepEqual(toAnthropicError({ code: "VALIDATION_FAILED", message: "Invalid.", details: { issues } }, 400), {
    type: "error",
    error: { type: "invalid_request_error", message: "temperature: expected a number from 0 to 1; body: expected a JSON object" },
  });
});
