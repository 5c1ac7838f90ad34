/**
 * @modelnode/core/pipeline — the model-pipeline contract, for packages that implement one
 * (such as @modelnode/onnx): the interface, its request and result types, the PIPELINE token
 * and the coded errors a pipeline throws.
 */
export * from "./lib/pipeline.js";
export { TOOL_NAME_PATTERN } from "./lib/tool-name.js";
export { ErrorCode, errors, isCodedError, ProtocolError, type ErrorBody } from "./lib/errors.js";
