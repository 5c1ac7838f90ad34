// @modelnode/plugin-tracing: OpenTelemetry spans per request and generation, exported over OTLP/HTTP.
export { tracingPlugin, TRACER_PROVIDER, TRACING_PLUGIN_VERSION } from "./plugin.js";
export { tracingOptionsSchema, type TracingOptions, type ResolvedTracingOptions } from "./options.js";
export { tracesUrl } from "./tracer.js";
