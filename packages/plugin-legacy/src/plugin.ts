/** `legacyPlugin(options)`: serves the field's legacy format as pipeline steps. */
import { definePlugin, PIPELINE, type Plugin } from "@modelnode/core";
import { createLegacyHandler } from "./handler.js";
import { LEGACY_COUNTERS, LEGACY_OPTIONS, resolveLegacyOptions, type LegacyCounters, type LegacyPluginOptions } from "./options.js";
import { legacyMessageSchema } from "./schema.js";

export function legacyPlugin(options: LegacyPluginOptions = {}): Plugin {
  const resolved = resolveLegacyOptions(options);
  const handler = createLegacyHandler(legacyMessageSchema(resolved));
  return definePlugin({
    name: "legacy",
    handlers: [handler],
    register(container, host) {
      const counters: LegacyCounters = { steps: 0, sessionsStarted: 0 };
      container.register(LEGACY_OPTIONS, { useValue: resolved });
      container.register(LEGACY_COUNTERS, { useValue: counters });
      host.addStatsSource("legacy", () => ({
        steps: counters.steps,
        sessions_started: counters.sessionsStarted,
        // Resolved when read: the plugin that binds PIPELINE may come after this one.
        active_sessions: container.isRegistered(PIPELINE, true) ? container.resolve(PIPELINE).stats().activeSessions : 0,
      }));
    },
  });
}
