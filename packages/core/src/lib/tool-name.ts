/**
 * The one rule for a tool's (function's) name, as OpenAI states it: 1 to 64 letters, digits,
 * "_" or "-". The doors' schemas (OpenAI, Ollama, Anthropic, WebSocket) and the pipeline's own
 * check of a request's tools all test names against it.
 */
export const TOOL_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
