/**
 * What a plugin author and an application author write outside this repository: a plugin
 * package (plain ESM JavaScript with a hand-written declaration, @modelnode/core as a peer
 * dependency) and an application that composes it with @modelnode/plugin-heartbeat, plus a
 * TypeScript file that the workspace's tsc checks against the installed packages' types.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const PLUGIN_NAME = "modelnode-plugin-shout";
export const PLUGIN_VERSION = "1.0.0";

const PLUGIN_FILES: Record<string, string> = {
  "package.json": JSON.stringify(
    {
      name: PLUGIN_NAME,
      version: PLUGIN_VERSION,
      type: "module",
      exports: { ".": { types: "./index.d.ts", default: "./index.js" } },
      files: ["index.js", "index.d.ts"],
      keywords: ["modelnode", "modelnode-plugin"],
      peerDependencies: { "@modelnode/core": "^0.1.0" },
    },
    null,
    2,
  ),
  "index.js": `import { defineHandler, definePlugin, MessageHandler, z } from "@modelnode/core";

// A handler as a plain value.
export const shout = defineHandler({
  type: "shout",
  schema: z.object({ text: z.string().max(1000) }),
  handle: (msg) => ({ text: msg.text.toUpperCase() }),
});

// A handler class, decorated without decorator syntax (what TypeScript's emit does).
export class WhisperHandler {
  handle(msg) {
    return { text: msg.text.toLowerCase() };
  }
}
MessageHandler("whisper", { schema: z.object({ text: z.string().max(1000) }) })(WhisperHandler);

export const shoutPlugin = () =>
  definePlugin({ name: "shout", version: "${PLUGIN_VERSION}", core: "^0.1.0", handlers: [shout, WhisperHandler] });
`,
  "index.d.ts": `import type { Plugin } from "@modelnode/core";
export declare function shoutPlugin(): Plugin;
`,
};

/** Writes the plugin package into `dir` (to be packed with `npm pack`). */
export function writePlugin(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(PLUGIN_FILES)) writeFileSync(join(dir, file), text);
}

const APP_FILES: Record<string, string> = {
  // Prints where it listens; exit 3 with the error when composition fails.
  "server.mjs": `import { createNode } from "@modelnode/core/server";
import { heartbeatPlugin } from "@modelnode/plugin-heartbeat";
import { shoutPlugin } from "${PLUGIN_NAME}";

let node;
try {
  node = await createNode({ plugins: [heartbeatPlugin(), shoutPlugin()], logLevel: "silent" });
} catch (error) {
  process.stderr.write(\`compose failed: \${error.name}: \${error.message}\\n\`);
  process.exit(3);
}
const { port } = await node.listen(0, "127.0.0.1");
process.stdout.write(\`listening ws://127.0.0.1:\${port}\\n\`);
process.once("SIGTERM", () => node.close().then(() => process.exit(0)));
`,
  // A client built on the installed @modelnode/testing: prints the reply to a shout.
  "client.mjs": `import { TestClient } from "@modelnode/testing";

const client = await TestClient.connect(process.argv[2]);
const reply = await client.call("shout", { text: process.argv[3] }, "from-installed-testing");
await client.close();
process.stdout.write(JSON.stringify(reply));
`,
  // Type-checked, not run: the published declarations and export maps resolve, and carry types.
  "check.ts": `import { defineHandler, definePlugin, MessageHandler, reply, z, type HandlerContext, type Plugin } from "@modelnode/core";
import { createNode, RegistryError, type ModelNode, type NodeOptions } from "@modelnode/core/server";
import { PROTOCOL_VERSION, standardReply } from "@modelnode/core/protocol";
import { PIPELINE, type ModelPipeline } from "@modelnode/core/pipeline";
import { heartbeatPlugin, type HeartbeatAck } from "@modelnode/plugin-heartbeat";
import { startTestNode, TestClient } from "@modelnode/testing";
import { shoutPlugin } from "${PLUGIN_NAME}";

const shout = defineHandler({
  type: "shout",
  schema: z.object({ text: z.string() }),
  handle: (msg) => ({ text: msg.text.toUpperCase() }),
});
// @ts-expect-error the message's type follows from the schema: text is a string
defineHandler({ type: "bad", schema: z.object({ text: z.string() }), handle: (msg) => ({ n: msg.text.toFixed() }) });

@MessageHandler("whisper", { schema: z.object({ text: z.string() }) })
class WhisperHandler {
  handle(msg: { text: string }, ctx: HandlerContext) {
    return ctx.protocol === "standard" ? { text: msg.text.toLowerCase() } : reply("whisper_legacy", {});
  }
}

const plugin: Plugin = definePlugin({ name: "shout-ts", version: "1.0.0", core: "^0.1.0", handlers: [shout, WhisperHandler] });
const options: NodeOptions = { plugins: [heartbeatPlugin({ maxTrackedWorkers: 10 }), plugin, shoutPlugin()], logLevel: "silent" };

export async function main(): Promise<void> {
  const node: ModelNode = await createNode(options);
  const { port } = await node.listen(0, "127.0.0.1");
  const client = await TestClient.connect(\`ws://127.0.0.1:\${port}\`);
  const ack: HeartbeatAck = await client.call("heartbeat", { worker_id: "w" });
  client.ws.send("{}"); // ws's own types, through @modelnode/testing's
  await client.close();
  await node.close();
  const pipeline: ModelPipeline | undefined = undefined;
  void [ack, pipeline, PIPELINE, PROTOCOL_VERSION, standardReply, RegistryError, startTestNode];
}
`,
  "tsconfig.json": JSON.stringify(
    {
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        lib: ["ES2023"],
        types: ["node"],
        strict: true,
        noEmit: true,
        // The published declarations are checked too, as a project that does not skip them would.
        skipLibCheck: false,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
      },
      files: ["check.ts"],
    },
    null,
    2,
  ),
};

/** Writes the application (package.json with `dependencies`, scripts, check.ts) into `dir`. */
export function writeApp(dir: string, dependencies: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const manifest = { name: "modelnode-publish-app", version: "0.0.0", private: true, type: "module", dependencies };
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const [file, text] of Object.entries(APP_FILES)) writeFileSync(join(dir, file), text);
}
