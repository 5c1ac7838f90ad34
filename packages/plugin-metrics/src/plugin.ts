/**
 * metricsPlugin(options): Prometheus metrics at GET /metrics on the node's port.
 *
 * List it right after pipelinePlugin(...) and before the plugins that use the pipeline: it
 * replaces the node's PIPELINE binding with an instrumented decorator of the pipeline
 * (instrumented-pipeline.ts), and handlers built afterwards (every plugin's handlers are built
 * once all plugins have registered) and plugins registering after it get the decorator.
 */
import { defineRoute, definePlugin, NODE_INFO, parsePluginOptions, PIPELINE, pluginManifest, type InjectionToken, type Plugin } from "@modelnode/core";
import { instrumentPipeline } from "./instrumented-pipeline.js";
import { ServingMetrics } from "./metrics.js";
import { metricsOptionsSchema, type MetricsOptions } from "./options.js";

/** This package's version and core range, from its package.json. */
const MANIFEST = pluginManifest(import.meta.url);
export const METRICS_PLUGIN_VERSION = MANIFEST.version;

/** This node's metrics (its own prom-client Registry is `registry`), for embedders and tests. */
export const SERVING_METRICS: InjectionToken<ServingMetrics> = Symbol.for("modelnode.plugin-metrics.metrics");

export function metricsPlugin(options: MetricsOptions = {}): Plugin {
  const resolved = parsePluginOptions("metricsPlugin", metricsOptionsSchema, options);
  return definePlugin({
    name: "metrics",
    ...MANIFEST,
    dependencies: ["pipeline"],
    routes: [
      defineRoute({
        method: "GET",
        path: resolved.path,
        // Scraping is not a request: no guards (auth), no rate limit, not counted.
        guarded: false,
        inject: { metrics: SERVING_METRICS },
        async handle(_req, _ctx, { metrics }) {
          return {
            text: await metrics.scrape(),
            contentType: metrics.registry.contentType,
            headers: { "cache-control": "no-store" },
          };
        },
      }),
    ],
    register(container, host) {
      if (!container.isRegistered(PIPELINE, true)) {
        throw new Error(
          'metricsPlugin must be listed after pipelinePlugin(...) (and before the plugins that use the pipeline): it instruments the pipeline that plugin binds',
        );
      }
      const pipeline = container.resolve(PIPELINE);
      const metrics = new ServingMetrics(resolved.prefix, resolved.processMetrics, {
        info: container.resolve(NODE_INFO),
        pipelineStats: () => pipeline.stats(),
        ...(pipeline.workerLoads ? { workerLoads: () => pipeline.workerLoads!() } : {}),
        logger: host.logger,
      });
      container.register(SERVING_METRICS, { useValue: metrics });
      container.register(PIPELINE, { useValue: instrumentPipeline(pipeline, metrics) });
      host.onRequestEnd((event) => metrics.requestEnded(event));
    },
  });
}
