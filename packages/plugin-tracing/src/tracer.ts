/**
 * The node's own tracer provider (never the global one: two nodes in one process each export
 * their own spans), exporting in batches to OTLP/HTTP or to the exporter given.
 */
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { tracesUrl, type ResolvedTracingOptions } from "./options.js";

export function createTracerProvider(options: ResolvedTracingOptions, serviceVersion: string): BasicTracerProvider {
  const exporter: SpanExporter = options.exporter ?? new OTLPTraceExporter({ url: tracesUrl(options.endpoint!), headers: options.headers });
  const root = options.sampleRatio >= 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(options.sampleRatio);
  return new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": options.serviceName, "service.version": serviceVersion }),
    sampler: new ParentBasedSampler({ root }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
}
