/** `ollamaPlugin(options)`: Ollama's HTTP API on the node's port, on the model pipeline. */
import { definePlugin, PIPELINE, pluginManifest, type Plugin } from "@modelnode/core";
import { OllamaCounters } from "./counters.js";
import { OLLAMA_COUNTERS, resolveOllamaOptions, type OllamaPluginOptions } from "./options.js";
import { ollamaRoutes } from "./routes.js";

export function ollamaPlugin(options: OllamaPluginOptions = {}): Plugin {
  const resolved = resolveOllamaOptions(options);
  const manifest = pluginManifest(import.meta.url);
  return definePlugin({
    name: "ollama",
    ...manifest,
    requires: [PIPELINE],
    routes: ollamaRoutes({ ...resolved, version: resolved.version ?? manifest.version }),
    register(container, host) {
      const counters = new OllamaCounters();
      container.register(OLLAMA_COUNTERS, { useValue: counters });
      host.addStatsSource("ollama", () => counters.snapshot());
    },
  });
}
