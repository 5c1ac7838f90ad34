// Example: a custom message type published as its own plugin, and a server composed from it.
export { echoChunkSchema, echoPlugin, echoOptionsSchema, EchoHandler, echoResponseSchema, echoSchema, type EchoOptions } from "./echo-plugin.js";
export { createCustomServer, DEFAULT_CUSTOM_PORT, main, portFromEnv, type CustomServerOptions } from "./server.js";
