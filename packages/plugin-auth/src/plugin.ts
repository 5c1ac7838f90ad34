/** authPlugin(options): the authentication handler, the auth guard (when required) and "auth" stats. */
import { definePlugin, pluginManifest, type Plugin } from "@modelnode/core";
import { AuthenticationHandler } from "./auth-handler.js";
import { authGuard } from "./auth-guard.js";
import { Authenticator } from "./authenticator.js";
import { resolveAuthOptions, type AuthOptions } from "./options.js";
import { AUTHENTICATOR } from "./tokens.js";

export function authPlugin(options: AuthOptions): Plugin {
  const resolved = resolveAuthOptions(options);
  return definePlugin({
    name: "auth",
    ...pluginManifest(import.meta.url),
    handlers: [AuthenticationHandler],
    register(container, host) {
      const authenticator = new Authenticator(resolved);
      container.register(AUTHENTICATOR, { useValue: authenticator });
      if (resolved.required) host.addGuard(authGuard(authenticator, resolved));
      host.addStatsSource("auth", () => ({ required: resolved.required, ...authenticator.counters() }));
      if (resolved.keyHashes.length === 0) host.logger[resolved.required ? "warn" : "debug"]("no keyHashes configured: every authentication fails");
      if (resolved.secretIsRandom) {
        host.logger.info("no auth secret configured: license_hashes are valid on this node until it restarts");
      }
    },
  });
}
