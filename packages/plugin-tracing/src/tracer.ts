/**
 * The node's own tracer provider (never the global one: two nodes in one process each export
 * their own spans), exporting in batches to OTLP/HTTP or to the exporter given.
 */
import type { Logger } from "@modelnode/core";
import { ExportResultCode } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { tracesUrl, type ResolvedTracingOptions } from "./options.js";

export function createTracerProvider(options: ResolvedTracingOptions, serviceVersion: string, logger: Logger): BasicTracerProvider {
  const url = options.endpoint === undefined ? undefined : tracesUrl(options.endpoint);
  const exporter: SpanExporter = options.exporter ?? new OTLPTraceExporter({ url, headers: options.headers });
  const root = options.sampleRatio >= 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(options.sampleRatio);
  return new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": options.serviceName, "service.version": serviceVersion }),
    sampler: new ParentBasedSampler({ root }),
    spanProcessors: [new BatchSpanProcessor(loggedExporter(exporter, logger, url))],
  });
}

/**
 * Says in the node's log when exports fail and when they work again. OpenTelemetry reports a
 * failed export only to its global diagnostic logger, silent unless set: without this, a
 * collector that is down or refuses the spans would go unnoticed. One warning per outage (the
 * exporter has retried by then), not one per batch.
 */
export function loggedExporter(inner: SpanExporter, logger: Logger, url: string | undefined): SpanExporter {
  let failing = false;
  const exporter: SpanExporter = {
    export(spans, done) {
      inner.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS && !failing) {
          failing = true;
          logger.warn({ err: result.error, url, spans: spans.length }, "could not export spans (not logged again until an export succeeds)");
        } else if (result.code === ExportResultCode.SUCCESS && failing) {
          failing = false;
          logger.info({ url }, "spans are exported again");
        }
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
  };
  if (inner.forceFlush) exporter.forceFlush = () => inner.forceFlush!();
  return exporter;
}
