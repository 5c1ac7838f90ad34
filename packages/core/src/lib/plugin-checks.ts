/** The composition checks createNode makes before anything starts, each naming the plugin at fault. */
import semver from "semver";
import type { DependencyContainer } from "tsyringe";
import { CORE_VERSION } from "./core-identity.js";
import type { Plugin } from "./plugin.js";
import { RegistryError } from "./registry.js";
import { describeToken } from "./services.js";

/** Names, versions and dependencies: before any plugin registers. */
export function checkPlugins(plugins: readonly Plugin[]): void {
  const names = new Map<string, number>();
  plugins.forEach((plugin, index) => {
    if (typeof plugin !== "object" || plugin === null || typeof plugin.name !== "string" || plugin.name.length === 0) {
      throw new RegistryError(`plugins[${index}] is not a plugin: expected an object with a non-empty name (did you forget to call the plugin's factory?)`);
    }
    const first = names.get(plugin.name);
    if (first !== undefined) {
      throw new RegistryError(`two plugins are named "${plugin.name}" (plugins[${first}] and plugins[${index}]): a plugin may be composed once`);
    }
    names.set(plugin.name, index);
  });
  for (const plugin of plugins) {
    if (plugin.core !== undefined) {
      const range = semver.validRange(plugin.core);
      if (range === null) throw new RegistryError(`plugin "${plugin.name}" declares core "${plugin.core}", which is not a semver range`);
      if (!semver.satisfies(CORE_VERSION, range, { includePrerelease: true })) {
        throw new RegistryError(
          `plugin "${plugin.name}"${plugin.version ? ` ${plugin.version}` : ""} works with @modelnode/core ${plugin.core}, but this node runs core ${CORE_VERSION}`,
        );
      }
    }
    const missing = (plugin.dependencies ?? []).filter((name) => !names.has(name));
    if (missing.length > 0) {
      throw new RegistryError(
        `plugin "${plugin.name}" needs the plugin${missing.length > 1 ? "s" : ""} ${missing.map((m) => `"${m}"`).join(", ")}, ` +
          `which ${missing.length > 1 ? "are" : "is"} not composed into this node`,
      );
    }
  }
}

/** Declared services: after every plugin has registered, before any handler is built. */
export function checkServices(plugins: readonly Plugin[], container: DependencyContainer): void {
  for (const plugin of plugins) {
    for (const token of plugin.requires ?? []) {
      if (!container.isRegistered(token, true)) {
        throw new RegistryError(`plugin "${plugin.name}" needs ${describeToken(token)}, which no plugin provides`);
      }
    }
  }
}
