/** A real node on a free loopback port, and polling for conditions that settle asynchronously. */
import { createNode, type ModelNode, type NodeOptions } from "@modelnode/core/server";

export interface RunningNode {
  node: ModelNode;
  /** ws:// (or wss:// with `tls`) URL of the node. */
  url: string;
  port: number;
}

/** Listens on 127.0.0.1 with a free port; silent logs unless the options say otherwise. */
export async function listenOnFreePort(node: ModelNode, tls = false): Promise<RunningNode> {
  const { port } = await node.listen(0, "127.0.0.1");
  return { node, url: `${tls ? "wss" : "ws"}://127.0.0.1:${port}`, port };
}

/** createNode(options) (logs silent by default), listening on a free loopback port. */
export async function startTestNode(options: NodeOptions = {}): Promise<RunningNode> {
  const node = await createNode({ logLevel: "silent", ...options });
  return listenOnFreePort(node, Boolean(options.tls));
}

/** Waits until `check()` holds (polling every 10 ms), failing with `what` after `timeoutMs`. */
export async function eventually(check: () => boolean, what: string | (() => string), timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${typeof what === "string" ? what : what()}`);
    await sleep(10);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
