/**
 * A plugin's `version` and `core` range, read from its own package.json rather than written out
 * by hand in its code, where they drift apart from what is published: `version` is the package's,
 * `core` is its `peerDependencies["@modelnode/core"]` range.
 *
 *   definePlugin({ name: "auth", ...pluginManifest(import.meta.url), ... })
 *
 * The package.json is the nearest one above the calling module, so the same call works from the
 * workspace's dist/ and from an installed tarball (npm always packs package.json).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface PluginManifest {
  /** The plugin package's version. */
  version: string;
  /** The @modelnode/core versions it works with (its peer dependency range). */
  core: string;
}

const CORE_PACKAGE = "@modelnode/core";

/** `moduleUrl`: the calling module's `import.meta.url`. */
export function pluginManifest(moduleUrl: string | URL): PluginManifest {
  const file = nearestPackageJson(dirname(fileURLToPath(moduleUrl)));
  if (!file) throw new Error(`pluginManifest: no package.json above ${String(moduleUrl)}`);
  const manifest = JSON.parse(readFileSync(file, "utf8")) as { version?: unknown; peerDependencies?: Record<string, unknown> };
  const { version } = manifest;
  const core = manifest.peerDependencies?.[CORE_PACKAGE];
  if (typeof version !== "string") throw new Error(`pluginManifest: ${file} has no "version"`);
  if (typeof core !== "string") throw new Error(`pluginManifest: ${file} lists no peerDependencies["${CORE_PACKAGE}"] range`);
  return { version, core };
}

function nearestPackageJson(dir: string): string | undefined {
  for (;;) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
