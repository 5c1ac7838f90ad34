/** heartbeatPlugin(options): the heartbeat handler, its monitor in DI, and a "heartbeat" stats source. */
import { definePlugin, NODE_INFO, PIPELINE, pluginManifest, type ModelPipeline, type NodeInfo, type Plugin } from "@modelnode/core";
import { HeartbeatHandler } from "./heartbeat-handler.js";
import { HeartbeatMonitor } from "./monitor.js";
import { resolveHeartbeatOptions, type HeartbeatOptions } from "./options.js";
import { HEARTBEAT_MONITOR } from "./tokens.js";

export function heartbeatPlugin(options: HeartbeatOptions = {}): Plugin {
  const resolved = resolveHeartbeatOptions(options);
  return definePlugin({
    name: "heartbeat",
    ...pluginManifest(import.meta.url),
    handlers: [HeartbeatHandler],
    register(container, host) {
      let pipeline: ModelPipeline | undefined;
      let nodeInfo: NodeInfo | undefined;
      const monitor = new HeartbeatMonitor(resolved, {
        // Resolved once, on first use (a container lookup per heartbeat was a quarter of the handler's time).
        nodeInfo: () => (nodeInfo ??= container.resolve(NODE_INFO)),
        // PIPELINE is resolved on first use: it may be bound by a plugin listed after this one (or never).
        pipeline: () => {
          if (!pipeline && container.isRegistered(PIPELINE, true)) pipeline = container.resolve(PIPELINE);
          return pipeline;
        },
        logger: host.logger,
      });
      container.register(HEARTBEAT_MONITOR, { useValue: monitor });
      host.addStatsSource("heartbeat", () => {
        const { workers } = monitor;
        const stats = { tracked_workers: workers.size, evicted_workers: workers.evicted } as Record<string, unknown>;
        // The per-worker map is built only when read (JSON, /stats, a test), not on every stats() call.
        Object.defineProperty(stats, "workers", { enumerable: true, get: () => workers.toJSON() });
        return stats;
      });
    },
  });
}
