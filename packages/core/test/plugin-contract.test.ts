/** The plugin contract: what createNode checks before anything starts, each error naming the plugin. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CORE_VERSION, definePlugin, inject, MessageHandler, PIPELINE, z, type ModelPipeline } from "../src/index.js";
import { createNode, NodeOptionsError, RegistryError } from "../src/server.js";
import { TestHeartbeat } from "./test-plugin.js";

const silent = { logLevel: "silent" } as const;
const refused = (pattern: RegExp) => (err: Error) => {
  assert.ok(err instanceof RegistryError || err instanceof NodeOptionsError, `unexpected ${err.name}: ${err.message}`);
  assert.match(err.message, pattern);
  return true;
};

test("two plugins with one name are refused, naming both positions", async () => {
  const a = definePlugin({ name: "echo", handlers: [] });
  await assert.rejects(createNode({ ...silent, plugins: [a, { ...a }] }), refused(/two plugins are named "echo" \(plugins\[0\] and plugins\[1\]\)/));
});

test("a plugin factory passed uncalled is named as such", async () => {
  await assert.rejects(createNode({ ...silent, plugins: [(() => ({ name: "x" })) as never] }), refused(/plugins\[0\] is not a plugin.*factory/));
});

test("a plugin whose dependency is not composed is refused, naming both", async () => {
  const needy = definePlugin({ name: "stats-page", dependencies: ["heartbeat", "auth"], handlers: [] });
  const heartbeat = definePlugin({ name: "heartbeat", handlers: [TestHeartbeat] });
  await assert.rejects(createNode({ ...silent, plugins: [needy, heartbeat] }), refused(/plugin "stats-page" needs the plugin "auth", which is not composed/));
  // Order does not matter once it is there.
  const node = await createNode({ ...silent, plugins: [needy, heartbeat, definePlugin({ name: "auth" })] });
  await node.close();
});

test("a plugin made for another core version is refused, naming both versions", async () => {
  const future = definePlugin({ name: "future", version: "3.1.0", core: "^9.0.0" });
  await assert.rejects(
    createNode({ ...silent, plugins: [future] }),
    refused(new RegExp(`plugin "future" 3\\.1\\.0 works with @modelnode/core \\^9\\.0\\.0, but this node runs core ${CORE_VERSION.replace(/\./g, "\\.")}`)),
  );
  await assert.rejects(createNode({ ...silent, plugins: [definePlugin({ name: "odd", core: "not a range" })] }), refused(/"odd" declares core "not a range", which is not a semver range/));
  const node = await createNode({ ...silent, plugins: [definePlugin({ name: "current", core: `^${CORE_VERSION}` })] });
  await node.close();
});

@MessageHandler("generate_thing", { schema: z.object({}) })
class NeedsPipeline {
  constructor(@inject(PIPELINE) readonly pipeline: ModelPipeline) {}
  handle() {
    return { models: this.pipeline.listModels().length };
  }
}

test("a plugin that requires the pipeline, composed without one, says so (not tsyringe's raw error)", async () => {
  const plugin = definePlugin({ name: "things", requires: [PIPELINE], handlers: [NeedsPipeline] });
  await assert.rejects(createNode({ ...silent, plugins: [plugin] }), refused(/plugin "things" needs a model pipeline \(PIPELINE; compose pipelinePlugin/));
});

test("an undeclared missing service is still reported in the author's terms", async () => {
  const plugin = definePlugin({ name: "things", handlers: [NeedsPipeline] });
  await assert.rejects(
    createNode({ ...silent, plugins: [plugin] }),
    refused(/NeedsPipeline \(plugin "things"\) could not be built: constructor parameter #0 needs .*modelnode\.pipeline.*which no plugin provides/),
  );
});

test("close hooks of plugins that registered run when a later check fails (a loaded model is freed)", async () => {
  let closed = 0;
  const holder = definePlugin({ name: "holder", register: (_c, host) => host.onClose(() => void closed++) });
  const needy = definePlugin({ name: "needy", requires: [PIPELINE] });
  await assert.rejects(createNode({ ...silent, plugins: [holder, needy] }), RegistryError);
  assert.equal(closed, 1);
});

test("options are validated: NaN or negative limits are refused, naming the field", async () => {
  await assert.rejects(createNode({ ...silent, limits: { maxInFlightPerConnection: Number.NaN } }), refused(/limits\.maxInFlightPerConnection: expected an integer ≥ 1/));
  await assert.rejects(createNode({ ...silent, limits: { messagesPerSecond: -1 } }), refused(/limits\.messagesPerSecond/));
  await assert.rejects(createNode({ ...silent, port: 70_000 }), refused(/port: expected an integer from 0 to 65535/));
  await assert.rejects(createNode({ ...silent, limits: { maxConection: 3 } as never }), refused(/limits: .*maxConection/));
  const node = await createNode({ ...silent, limits: { messagesPerSecond: 0 } });
  await node.close();
});

test("two copies of core in one process are reported as such", async (t) => {
  // A second copy of core, as a plugin that lists core under `dependencies` would get.
  const coreRoot = fileURLToPath(new URL("../../", import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), "modelnode-core-copy-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(coreRoot, "dist", "src"), join(dir, "dist", "src"), { recursive: true });
  cpSync(join(coreRoot, "package.json"), join(dir, "package.json"));
  symlinkSync(join(coreRoot, "node_modules"), join(dir, "node_modules"));
  const other = (await import(pathToFileURL(join(dir, "dist", "src", "index.js")).href)) as typeof import("../src/index.js");

  @other.MessageHandler("foreign", { schema: other.z.object({}) })
  class ForeignHandler {
    handle() {
      return {};
    }
  }
  const plugin = other.definePlugin({ name: "foreign-plugin", handlers: [ForeignHandler] });
  await assert.rejects(
    createNode({ ...silent, plugins: [plugin] }),
    refused(/ForeignHandler \(plugin "foreign-plugin"\) was decorated by another copy of @modelnode\/core.*two copies are loaded.*peerDependencies/s),
  );
  // The same for a plain-value handler made by the other copy.
  const value = other.defineHandler({ type: "foreign_value", schema: other.z.object({}), handle: () => other.reply("x", {}) });
  await assert.rejects(
    createNode({ ...silent, plugins: [other.definePlugin({ name: "foreign-values", handlers: [value] })] }),
    refused(/handler "foreign_value" \(plugin "foreign-values"\) was made by another copy of @modelnode\/core.*two copies are loaded/s),
  );
  // A reply made by another copy is still recognised as one (not sent as a plain payload).
  const { isReply } = await import("../src/index.js");
  assert.equal(isReply(other.reply("x", {})), true);
});
