/** pluginManifest(import.meta.url): a plugin's version and core range, from its nearest package.json. */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { pluginManifest } from "../src/index.js";

const root = mkdtempSync(join(tmpdir(), "modelnode-manifest-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** A package at `root/name` with `manifest` as its package.json; the URL of a module in its dist/src. */
function packageWith(name: string, manifest: object): string {
  const dir = join(root, name);
  mkdirSync(join(dir, "dist", "src"), { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify(manifest));
  return pathToFileURL(join(dir, "dist", "src", "plugin.js")).href;
}

test("reads the version and the @modelnode/core peer range from the nearest package.json above the module", () => {
  const url = packageWith("plugin-a", { name: "a", version: "2.3.4", peerDependencies: { "@modelnode/core": "^0.1.0", other: "1" } });
  assert.deepEqual(pluginManifest(url), { version: "2.3.4", core: "^0.1.0" });
  assert.deepEqual(pluginManifest(new URL(url)), { version: "2.3.4", core: "^0.1.0" });
});

test("a package without a core peer range or a version is an error naming its package.json", () => {
  const noPeer = packageWith("plugin-b", { name: "b", version: "1.0.0", dependencies: { "@modelnode/core": "^0.1.0" } });
  assert.throws(() => pluginManifest(noPeer), /plugin-b.package\.json lists no peerDependencies\["@modelnode\/core"\] range/);
  const noVersion = packageWith("plugin-c", { name: "c", peerDependencies: { "@modelnode/core": "^0.1.0" } });
  assert.throws(() => pluginManifest(noVersion), /plugin-c.package\.json has no "version"/);
});

test("core's own package.json lists no core peer range: an error, not a guess", () => {
  assert.throws(() => pluginManifest(import.meta.url), /lists no peerDependencies/);
});
