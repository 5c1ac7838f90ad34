// @modelnode/plugin-tracing: OpenTelemetry spans per request and generation, exported over OTLP/HTTP.
export { tracingPlugin, TRACER_PROVIDER, TRACING_PLUGIN_VERSION } from "./plugin.js";
export { tracesUrl, tracingConfigSchema, tracingOptionsSchema, type ResolvedTracingOptions, type TracingConfig, type TracingOptions } from "./options.js";
