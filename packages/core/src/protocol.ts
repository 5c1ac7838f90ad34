/**
 * @modelnode/core/protocol — wire-format building blocks: protocol detection, the header's
 * schema, reply envelopes (and the zod schemas of the reply header and both error shapes),
 * validation errors. Handlers never need these (core sends replies);
 * they are for tools that speak the protocol themselves (clients, bridges, benchmarks).
 */
export { detect, frameToText, type Detection } from "./lib/detect.js";
export { PROTOCOL_VERSION, headerSchema, isSupportedVersion, isWellFormedHeader } from "./lib/header.js";
export {
  replyHeader,
  standardReply,
  standardError,
  legacyError,
  replyHeaderSchema,
  errorCodeSchema,
  errorBodySchema,
  errorFrameSchema,
  legacyErrorSchema,
  type ReplyHeader,
} from "./lib/envelope.js";
export { validationError, type FieldIssue } from "./lib/validation.js";
export { toErrorBody, type ErrorBody } from "./lib/errors.js";
