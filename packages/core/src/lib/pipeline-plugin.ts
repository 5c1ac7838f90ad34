/**
 * Binds a model pipeline to core's PIPELINE token, closes it when the node closes (close hooks
 * run in reverse order: list it first and it closes last), and reports its figures in getStats()
 * under "pipeline", in snake_case like every other figure there (the contract's camelCase
 * `activeSessions` is `active_sessions` in /stats). Give it a pipeline, or a factory that is called during createNode with the
 * node's logger (so model-loading logs go where the node's logs go).
 */
import type { Logger } from "pino";
import { PIPELINE, type ModelPipeline } from "./pipeline.js";
import { definePlugin, type Plugin } from "./plugin.js";

export type PipelineSource = ModelPipeline | ((logger: Logger) => Promise<ModelPipeline>);

export function pipelinePlugin(source: PipelineSource): Plugin {
  return definePlugin({
    name: "pipeline",
    async register(container, host) {
      const pipeline = typeof source === "function" ? await source(host.logger) : source;
      container.register(PIPELINE, { useValue: pipeline });
      host.onClose(() => pipeline.close());
      host.addStatsSource("pipeline", () => snakeCaseKeys(pipeline.stats()));
      if (pipeline.notReady) host.addReadinessCheck(() => pipeline.notReady!());
    },
  });
}

/** `{ activeSessions: 1 }` → `{ active_sessions: 1 }` (one level: pipeline figures are flat numbers). */
export function snakeCaseKeys(figures: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(figures)) out[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = value;
  return out;
}
