// Each plugin of the workspace declares the version and the core range its package.json says
// (pluginManifest), not a copy written out in its code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Plugin } from "@modelnode/core";
import { anthropicPlugin } from "@modelnode/plugin-anthropic";
import { authPlugin } from "@modelnode/plugin-auth";
import { heartbeatPlugin } from "@modelnode/plugin-heartbeat";
import { inferencePlugin } from "@modelnode/plugin-inference";
import { legacyPlugin } from "@modelnode/plugin-legacy";
import { metricsPlugin, METRICS_PLUGIN_VERSION } from "@modelnode/plugin-metrics";
import { ollamaPlugin } from "@modelnode/plugin-ollama";
import { openaiPlugin } from "@modelnode/plugin-openai";
import { playgroundPlugin, PLAYGROUND_VERSION } from "@modelnode/plugin-playground";
import { tracingPlugin, TRACING_PLUGIN_VERSION } from "@modelnode/plugin-tracing";
import { echoPlugin } from "@modelnode/example-custom-plugin";
import { REPO_ROOT } from "./support/paths.js";

const PLUGINS: [dir: string, plugin: Plugin][] = [
  ["packages/plugin-anthropic", anthropicPlugin()],
  ["packages/plugin-auth", authPlugin({ keyHashes: [] })],
  ["packages/plugin-heartbeat", heartbeatPlugin()],
  ["packages/plugin-inference", inferencePlugin()],
  ["packages/plugin-legacy", legacyPlugin()],
  ["packages/plugin-metrics", metricsPlugin()],
  ["packages/plugin-openai", openaiPlugin()],
  ["packages/plugin-ollama", ollamaPlugin()],
  ["packages/plugin-playground", playgroundPlugin()],
  ["packages/plugin-tracing", tracingPlugin({ endpoint: "http://127.0.0.1:4318" })],
  ["examples/custom-plugin", echoPlugin()],
];

for (const [dir, plugin] of PLUGINS) {
  test(`${dir}: plugin "${plugin.name}" declares its package.json's version and @modelnode/core peer range`, () => {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, dir, "package.json"), "utf8"));
    assert.equal(plugin.version, manifest.version);
    assert.equal(plugin.core, manifest.peerDependencies["@modelnode/core"]);
  });
}

test("the exported version constants are the packages' versions", () => {
  assert.equal(METRICS_PLUGIN_VERSION, PLUGINS.find(([d]) => d === "packages/plugin-metrics")![1].version);
  assert.equal(PLAYGROUND_VERSION, PLUGINS.find(([d]) => d === "packages/plugin-playground")![1].version);
  assert.equal(TRACING_PLUGIN_VERSION, PLUGINS.find(([d]) => d === "packages/plugin-tracing")![1].version);
});
