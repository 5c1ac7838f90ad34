/**
 * tracingPlugin's options: zod schemas, so that applications can put them in their config files.
 * This module loads nothing of OpenTelemetry (its one import of it is a type), and is its own
 * entry point, `@modelnode/plugin-tracing/options`: an application validates its configuration
 * with it and imports the plugin (and the OpenTelemetry SDK) only when tracing is turned on.
 */
import { z } from "@modelnode/core";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";

/**
 * The options a configuration file can hold (all but `exporter`). As an application's config
 * section: no `endpoint`, no tracing (the example node composes no tracing plugin then).
 */
export const tracingConfigSchema = z.strictObject({
  /**
   * Where spans are sent over OTLP/HTTP (JSON), e.g. "http://collector:4318". A URL without a
   * path gets the standard "/v1/traces"; one with a path is used as it is.
   */
  endpoint: z
    .url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" })
    .max(2048, { error: "expected at most 2048 characters" })
    .optional(),
  /** Extra headers on each export (e.g. a collector's API key). */
  headers: z.record(z.string(), z.string({ error: "expected a string" }), { error: "expected an object of header names to strings" }).optional(),
  /** The resource's `service.name`, how backends group this node's spans. */
  serviceName: z.string({ error: "expected a string" }).min(1, { error: "expected a non-empty string" }).max(256).default("modelnode"),
  /**
   * The share of new traces recorded (0 to 1). A request that comes with a `traceparent`
   * follows its caller's sampled flag instead.
   */
  sampleRatio: z.number({ error: "expected a number from 0 to 1" }).min(0).max(1).default(1),
});

export const tracingOptionsSchema = tracingConfigSchema
  .extend({
    /** Instead of `endpoint`: any OpenTelemetry SpanExporter (tests use the SDK's InMemorySpanExporter). */
    exporter: z.custom<SpanExporter>((value) => typeof (value as SpanExporter | null)?.export === "function", { error: "expected a SpanExporter" }).optional(),
  })
  .refine((options) => options.endpoint !== undefined || options.exporter !== undefined, {
    error: "expected a URL (or give an exporter)",
    path: ["endpoint"],
  });

export type TracingConfig = z.input<typeof tracingConfigSchema>;
export type TracingOptions = z.input<typeof tracingOptionsSchema>;
export type ResolvedTracingOptions = z.output<typeof tracingOptionsSchema>;

/** "http://collector:4318" → ".../v1/traces" (as OTEL_EXPORTER_OTLP_ENDPOINT reads); a URL with a path stays as it is. */
export function tracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/v1/traces";
  return url.toString();
}
