/** `openaiPlugin(options)`: an OpenAI-compatible HTTP API on the node's port, on the model pipeline. */
import { definePlugin, PIPELINE, pluginManifest, type Plugin } from "@modelnode/core";
import { OpenAICounters } from "./counters.js";
import { OPENAI_COUNTERS, resolveOpenAIOptions, type OpenAIPluginOptions } from "./options.js";
import { OPENAI_RESPONSE_STORE, ResponseStore } from "./response-store.js";
import { openaiRoutes } from "./routes.js";

export function openaiPlugin(options: OpenAIPluginOptions = {}): Plugin {
  const resolved = resolveOpenAIOptions(options);
  return definePlugin({
    name: "openai",
    ...pluginManifest(import.meta.url),
    requires: [PIPELINE],
    routes: openaiRoutes(resolved),
    register(container, host) {
      const counters = new OpenAICounters();
      container.register(OPENAI_COUNTERS, { useValue: counters });
      const responses = new ResponseStore(resolved.maxStoredResponses, resolved.maxStoredResponseBytes);
      container.register(OPENAI_RESPONSE_STORE, { useValue: responses });
      host.addStatsSource("openai", () => counters.snapshot());
      host.addStatsSource("openai_responses", () => responses.snapshot());
    },
  });
}
