/**
 * What the benches that run the example node share: its CLI as a child process on a bench model
 * (resolves once it answers a WebSocket), and opening a WebSocket.
 */
import { spawn, type ChildProcess } from "node:child_process";
import WebSocket from "ws";
import { CLI_PATH } from "../support/paths.js";

export function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once("open", () => resolve(socket));
    socket.once("error", reject);
  });
}

/**
 * The example node serving `modelDir` as "bench" on loopback, warnings only; `threads` 0: its default.
 * BENCH_NODE_FLAGS (space-separated) go to its `node` before the script, e.g.
 * `BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` profiles its threads (NODE_OPTIONS refuses --cpu-prof).
 */
export async function startBenchNode(port: number, modelDir: string, threads: number): Promise<ChildProcess> {
  const flags = process.env.BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? [];
  const args = [...flags, CLI_PATH, "--port", String(port), "--host", "127.0.0.1", "--model", `bench=${modelDir}`, "--log-level", "warn"];
  if (threads > 0) args.push("--threads", String(threads));
  const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"] });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      (await connect(`ws://127.0.0.1:${port}`)).close();
      return child;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error("the node did not start");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
