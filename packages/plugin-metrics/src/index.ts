// @modelnode/plugin-metrics: Prometheus metrics (prom-client) at GET /metrics, named after vLLM's.
export { metricsPlugin, METRICS_PLUGIN_VERSION, SERVING_METRICS } from "./plugin.js";
export { metricsOptionsSchema, type MetricsOptions, type ResolvedMetricsOptions } from "./options.js";
export { BUCKETS, ServingMetrics, type GenerationObserver, type MetricsSources, type ObservedResult } from "./metrics.js";
export { instrumentPipeline } from "./instrumented-pipeline.js";
