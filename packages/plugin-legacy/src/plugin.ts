/** `legacyPlugin(options)`: serves the field's legacy format as pipeline steps. */
import { definePlugin, PIPELINE, type Plugin } from "@modelnode/core";
import { createLegacyHandler } from "./handler.js";
import { LEGACY_OPTIONS, LEGACY_SESSIONS, resolveLegacyOptions, type LegacyPluginOptions } from "./options.js";
import { legacyMessageSchema } from "./schema.js";
import { SessionTable } from "./sessions.js";

export function legacyPlugin(options: LegacyPluginOptions = {}): Plugin {
  const resolved = resolveLegacyOptions(options);
  const handler = createLegacyHandler(legacyMessageSchema(resolved));
  return definePlugin({
    name: "legacy",
    handlers: [handler],
    register(container, host) {
      const sessions = new SessionTable({
        maxSessions: resolved.maxSessions,
        idleTimeoutMs: resolved.sessionIdleTimeoutMs,
        // Resolved when needed: the plugin that binds PIPELINE may come after this one.
        release: (key) => {
          try {
            container.resolve(PIPELINE).closeSession(key);
          } catch (err) {
            host.logger.warn({ err }, "could not free a legacy session in the pipeline");
          }
        },
      });
      container.register(LEGACY_OPTIONS, { useValue: resolved });
      container.register(LEGACY_SESSIONS, { useValue: sessions });
      sessions.startSweeper();
      host.onClose(() => sessions.close());
      host.addStatsSource("legacy", () => sessions.stats());
    },
  });
}
