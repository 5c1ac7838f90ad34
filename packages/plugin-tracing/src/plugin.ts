/**
 * tracingPlugin(options): OpenTelemetry traces of the node's requests and generations.
 *
 * List it right after pipelinePlugin(...) (and metricsPlugin, if any) and before the plugins that
 * use the pipeline: it replaces the node's PIPELINE binding with a traced decorator of it, as the
 * metrics plugin does. Without a pipeline bound it traces requests only.
 *
 * Nothing of it costs anything while it is not composed: core runs request scopes and observers
 * only when a plugin adds them, and an application that leaves tracing off need not import this
 * package at all (the example node imports it only when tracing is configured).
 */
import { definePlugin, PIPELINE, parsePluginOptions, pluginManifest, type InjectionToken, type Plugin } from "@modelnode/core";
import type { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { tracingOptionsSchema, type TracingOptions } from "./options.js";
import { RequestSpans } from "./request-spans.js";
import { tracePipeline } from "./traced-pipeline.js";
import { createTracerProvider } from "./tracer.js";

/** This package's version and core range, from its package.json. */
const MANIFEST = pluginManifest(import.meta.url);
export const TRACING_PLUGIN_VERSION = MANIFEST.version;

/** This node's tracer provider (its own, never the global one), for embedders and tests (`forceFlush()`). */
export const TRACER_PROVIDER: InjectionToken<BasicTracerProvider> = Symbol.for("modelnode.plugin-tracing.provider");

export function tracingPlugin(options: TracingOptions): Plugin {
  const resolved = parsePluginOptions("tracingPlugin", tracingOptionsSchema, options);
  return definePlugin({
    name: "tracing",
    ...MANIFEST,
    register(container, host) {
      const provider = createTracerProvider(resolved, MANIFEST.version, host.logger);
      const tracer = provider.getTracer("@modelnode/plugin-tracing", MANIFEST.version);
      const requests = new RequestSpans(tracer, host.logger);
      container.register(TRACER_PROVIDER, { useValue: provider });
      if (container.isRegistered(PIPELINE, true)) container.register(PIPELINE, { useValue: tracePipeline(container.resolve(PIPELINE), tracer, requests) });
      host.scopeRequests(requests.scope);
      host.onRequestEnd(requests.ended);
      // The spans still buffered are sent before the node is gone.
      host.onClose(async () => {
        try {
          await provider.shutdown();
        } catch (err) {
          host.logger.warn({ err }, "could not export the last spans");
        }
      });
    },
  });
}
