/**
 * A custom server composed from chosen plugins only: heartbeat and the example's echo type.
 * `node dist/src/server.js` listens on $PORT (default 8703; 0 picks a free port).
 */
import { pathToFileURL } from "node:url";
import { closeOnSignals, createNode, type ModelNode, type NodeOptions } from "@modelnode/core/server";
import { heartbeatPlugin, type HeartbeatOptions } from "@modelnode/plugin-heartbeat";
import { echoPlugin, type EchoOptions } from "./echo-plugin.js";

export const DEFAULT_CUSTOM_PORT = 8703;

export interface CustomServerOptions extends Omit<NodeOptions, "plugins"> {
  heartbeat?: HeartbeatOptions;
  echo?: EchoOptions;
}

/** The node, composed but not listening: call `listen(port)` on it (tests use port 0). */
export async function createCustomServer(options: CustomServerOptions = {}): Promise<ModelNode> {
  const { heartbeat, echo, ...nodeOptions } = options;
  return createNode({
    ...nodeOptions,
    port: nodeOptions.port ?? DEFAULT_CUSTOM_PORT,
    plugins: [heartbeatPlugin(heartbeat), echoPlugin(echo)],
  });
}

export function portFromEnv(value: string | undefined): number {
  if (value === undefined || value === "") return DEFAULT_CUSTOM_PORT;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(`PORT must be a whole number from 0 to 65535 (got "${value.slice(0, 20)}")`);
  }
  return port;
}

export async function main(): Promise<void> {
  const node = await createCustomServer({ nodeId: process.env.NODE_ID || undefined });
  await node.listen(portFromEnv(process.env.PORT), process.env.HOST || undefined);
  closeOnSignals(node); // SIGTERM/SIGINT: drain, then exit 0; a second signal exits at once
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
