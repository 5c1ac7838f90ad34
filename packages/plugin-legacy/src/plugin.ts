/** `legacyPlugin(options)`: serves the field's legacy format as pipeline steps. */
import { definePlugin, PIPELINE, pluginManifest, type Plugin } from "@modelnode/core";
import { LegacyStepHandler } from "./handler.js";
import { LEGACY_COUNTERS, LEGACY_OPTIONS, resolveLegacyOptions, type LegacyCounters, type LegacyPluginOptions } from "./options.js";

export function legacyPlugin(options: LegacyPluginOptions = {}): Plugin {
  const resolved = resolveLegacyOptions(options);
  return definePlugin({
    name: "legacy",
    ...pluginManifest(import.meta.url),
    requires: [PIPELINE],
    handlers: [LegacyStepHandler],
    register(container, host) {
      const counters: LegacyCounters = { steps: 0, sessionsStarted: 0 };
      container.register(LEGACY_OPTIONS, { useValue: resolved });
      container.register(LEGACY_COUNTERS, { useValue: counters });
      host.addStatsSource("legacy", () => ({
        steps: counters.steps,
        sessions_started: counters.sessionsStarted,
        active_sessions: container.resolve(PIPELINE).stats().activeSessions,
      }));
    },
  });
}
