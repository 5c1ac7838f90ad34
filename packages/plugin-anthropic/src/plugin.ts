/** `anthropicPlugin(options)`: Anthropic's Messages API on the node's port, on the model pipeline. */
import { definePlugin, PIPELINE, pluginManifest, type Plugin } from "@modelnode/core";
import { AnthropicCounters } from "./counters.js";
import { ANTHROPIC_COUNTERS, resolveAnthropicOptions, type AnthropicPluginOptions } from "./options.js";
import { anthropicRoutes } from "./routes.js";

export function anthropicPlugin(options: AnthropicPluginOptions = {}): Plugin {
  const resolved = resolveAnthropicOptions(options);
  return definePlugin({
    name: "anthropic",
    ...pluginManifest(import.meta.url),
    requires: [PIPELINE],
    routes: anthropicRoutes(resolved),
    register(container, host) {
      const counters = new AnthropicCounters();
      container.register(ANTHROPIC_COUNTERS, { useValue: counters });
      host.addStatsSource("anthropic", () => counters.snapshot());
    },
  });
}
