#!/usr/bin/env node
// npm run cluster [-- --workers N --port P --nats-port Q]: a local scale-out set (docs/scale-out.md):
// a nats-server, N model workers (--role worker) and one gateway node (--role gateway) on port P.
// Ctrl-C / SIGTERM stop the gateway, drain the workers, then stop nats-server.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const HELP = `Usage: npm run cluster [-- options]

A local scale-out set (docs/scale-out.md): a nats-server, N model workers (--role worker) and
one gateway node (--role gateway) that clients connect to. Needs Debian's nats-server.
Ctrl-C or SIGTERM stops the gateway, drains the workers, then stops nats-server.

  --workers N       model workers to start (default 2)
  --port P          the gateway's port: WebSocket, OpenAI API, playground (default 8702)
  --nats-port Q     nats-server's client port (default 4222)
  -h, --help        show this help`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      workers: { type: "string", default: "2" },
      port: { type: "string", default: "8702" },
      "nats-port": { type: "string", default: "4222" },
      help: { type: "boolean", short: "h", default: false },
    },
  }));
} catch (error) {
  console.error(`cluster: ${error.message}\n\n${HELP}`);
  process.exit(2);
}
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
for (const name of ["workers", "port", "nats-port"]) {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < (name === "workers" ? 1 : 0) || n > 65_535) {
    console.error(`cluster: --${name} expects ${name === "workers" ? "a whole number of at least 1" : "a port number"}, got "${values[name]}"`);
    process.exit(2);
  }
}
const natsBin = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"].find(existsSync);
if (!natsBin) {
  console.error("nats-server is not installed (Debian: apt-get install nats-server)");
  process.exit(1);
}
const build = spawnSync(process.execPath, [join(root, "scripts", "dev.mjs"), "build"], { stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

const url = `nats://127.0.0.1:${values["nats-port"]}`;
const cli = join(root, "examples", "model-node", "dist", "src", "cli.js");
const children = [];
let stopping = false;
const start = (name, cmd, args) => {
  const child = spawn(cmd, args, { detached: true, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, MODELNODE_NODE_ID: name } });
  child.on("exit", (code, signal) => {
    // What stop() asked for (a drain that ended 0) is not news; anything else is.
    if (!(stopping && code === 0)) console.error(`[cluster] ${name} exited (${signal ?? code})`);
  });
  children.push({ name, child });
  return child;
};
const nats = start("nats-server", natsBin, ["-a", "127.0.0.1", "-p", values["nats-port"]]);
await new Promise((r) => setTimeout(r, 500));
for (let i = 0; i < Number(values.workers); i++) start(`worker-${i}`, process.execPath, [cli, "--role", "worker", "--nats", url]);
// No wait for the workers: the gateway starts before them too (/readyz 503 until one announces a model).
const gateway = start("gateway", process.execPath, [cli, "--role", "gateway", "--nats", url, "--port", values.port]);

const stop = async () => {
  if (stopping) return process.exit(130);
  stopping = true;
  const exited = (c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once("exit", r)));
  gateway.kill("SIGTERM");
  await exited(gateway);
  const workers = children.filter((c) => c.name.startsWith("worker-")).map((c) => c.child);
  for (const w of workers) w.kill("SIGTERM");
  await Promise.all(workers.map(exited));
  nats.kill("SIGINT"); // nats-server's clean exit (0); SIGTERM makes it exit 1
  await exited(nats);
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
