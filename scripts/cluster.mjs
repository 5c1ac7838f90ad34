#!/usr/bin/env node
// npm run cluster [-- --workers N --gateways G --port P --nats-port Q ...]: a local scale-out set
// (docs/scale-out.md): a NATS cluster (3 nats-servers routed to each other, JetStream on,
// replicated), N model workers (--role worker) and G gateway nodes (--role gateway) on ports P,
// P+1, ..., each given every server's URL; the gateways keep legacy step sessions in a JetStream
// KV bucket (3 replicas over 3 servers), so a session goes on at another gateway when its own dies.
// Ctrl-C / SIGTERM stop the gateways, drain the workers, then stop the nats-servers.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const HELP = `Usage: npm run cluster [-- options]

A local scale-out set (docs/scale-out.md): a NATS cluster (nats-servers routed to each other,
JetStream on with a store per server), N model workers (--role worker) and G gateway nodes
(--role gateway) that clients connect to; workers and gateways get every server's URL, so they
carry on when one server dies. The gateways keep legacy step sessions in a JetStream KV bucket
(--session-store jetstream; 3 replicas with 3 or more servers): a client whose gateway died
continues its session at another. Needs Debian's nats-server.
Ctrl-C or SIGTERM stops the gateways, drains the workers, then stops the nats-servers.

  --workers N              model workers to start (default 2)
  --gateways G             gateway nodes to start, on ports P, P+1, ... (default 1)
  --port P                 the first gateway's port: WebSocket, OpenAI API, playground (default 8702)
  --nats-servers K         nats-servers in the cluster (default 3; 1 = a single server)
  --nats-port Q            client ports Q, Q+1, ... (default 4222)
  --nats-cluster-port R    route ports R, R+1, ... (default 6222)
  --nats-monitor-port M    monitoring ports M, M+1, ... (/varz, /routez, /jsz; default 8222)
  --nats-store DIR         JetStream stores, DIR/nats-0, DIR/nats-1, ... (default: a folder
                           modelnode-cluster-Q in the system's temporary folder, kept across runs)
  --skip-build             do not build first
  -h, --help               show this help`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      workers: { type: "string", default: "2" },
      gateways: { type: "string", default: "1" },
      port: { type: "string", default: "8702" },
      "nats-port": { type: "string", default: "4222" },
      "nats-servers": { type: "string", default: "3" },
      "nats-cluster-port": { type: "string", default: "6222" },
      "nats-monitor-port": { type: "string", default: "8222" },
      "nats-store": { type: "string" },
      "skip-build": { type: "boolean", default: false },
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
const COUNTS = { workers: 64, gateways: 16, "nats-servers": 7 };
for (const name of ["workers", "gateways", "nats-servers", "port", "nats-port", "nats-cluster-port", "nats-monitor-port"]) {
  const n = Number(values[name]);
  const max = COUNTS[name] ?? 65_535;
  if (!Number.isInteger(n) || n < (name in COUNTS ? 1 : 0) || n > max) {
    console.error(`cluster: --${name} expects ${name in COUNTS ? `a whole number from 1 to ${max}` : "a port number"}, got "${values[name]}"`);
    process.exit(2);
  }
}
const natsBin = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"].find(existsSync);
if (!natsBin) {
  console.error("nats-server is not installed (Debian: apt-get install nats-server)");
  process.exit(1);
}
if (!values["skip-build"]) {
  const build = spawnSync(process.execPath, [join(root, "scripts", "dev.mjs"), "build"], { stdio: "inherit" });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

const natsCount = Number(values["nats-servers"]);
const port = (flag, i) => Number(values[flag]) + i;
const natsUrls = Array.from({ length: natsCount }, (_, i) => `nats://127.0.0.1:${port("nats-port", i)}`);
const url = natsUrls.join(",");
const store = values["nats-store"] ?? join(tmpdir(), `modelnode-cluster-${values["nats-port"]}`);
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
  // Which process is which, for an operator (or a test) who wants to stop or kill one.
  if (!name.startsWith("nats-")) console.error(`[cluster] ${name}: pid ${child.pid}`);
  return child;
};
// Each server: its client, route and monitoring ports, a JetStream store of its own and a name
// (JetStream's clustering needs both); routes to every other server. With 3, the JetStream meta
// group and R3 streams/KV buckets keep a quorum when one server dies.
const natsServers = natsUrls.map((natsUrl, i) => {
  const dir = join(store, `nats-${i}`);
  mkdirSync(dir, { recursive: true });
  const args = ["-a", "127.0.0.1", "-p", String(port("nats-port", i)), "-m", String(port("nats-monitor-port", i)), "-n", `nats-${i}`, "-js", "-sd", dir];
  if (natsCount > 1) {
    const routes = natsUrls.map((_, j) => `nats://127.0.0.1:${port("nats-cluster-port", j)}`).filter((_, j) => j !== i);
    args.push("--cluster_name", "modelnode", "--cluster", `nats://127.0.0.1:${port("nats-cluster-port", i)}`, "--routes", routes.join(","));
  }
  const child = start(`nats-${i}`, natsBin, args);
  console.error(`[cluster] nats-${i}: ${natsUrl} (pid ${child.pid}; routes :${port("nats-cluster-port", i)}; monitor http://127.0.0.1:${port("nats-monitor-port", i)}; JetStream store ${dir})`);
  return child;
});
await natsReady();
for (let i = 0; i < Number(values.workers); i++) start(`worker-${i}`, process.execPath, [cli, "--role", "worker", "--nats", url]);
// The gateway could start first (it answers /readyz 503 until a worker announces a model); waiting
// for the workers' connections only makes the script's "listening" line mean "ready to serve".
await workersConnected(Number(values.workers));
// Legacy sessions in a KV bucket all gateways share; over 3 servers, 3 copies (one server's death loses none).
const replicas = natsCount >= 3 ? 3 : 1;
const gatewayPorts = Array.from({ length: Number(values.gateways) }, (_, i) => port("port", i));
const gateways = gatewayPorts.map((p, i) =>
  start(`gateway-${i}`, process.execPath, [cli, "--role", "gateway", "--nats", url, "--port", String(p), "--session-store", "jetstream", "--session-store-replicas", String(replicas)]),
);
console.error(`[cluster] gateways: ${gatewayPorts.map((p) => `ws://127.0.0.1:${p}`).join(", ")} (legacy sessions in the JetStream KV bucket modelnode_sessions, ${replicas} replica(s))`);

const stop = async () => {
  if (stopping) return process.exit(130);
  stopping = true;
  const exited = (c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once("exit", r)));
  for (const g of gateways) g.kill("SIGTERM");
  await Promise.all(gateways.map(exited));
  const workers = children.filter((c) => c.name.startsWith("worker-")).map((c) => c.child);
  for (const w of workers) w.kill("SIGTERM");
  await Promise.all(workers.map(exited));
  // nats-server's clean exit (0); SIGTERM makes it exit 1. A server killed from outside is gone already.
  for (const nats of natsServers) nats.kill("SIGINT");
  await Promise.all(natsServers.map(exited));
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

/**
 * Waits (at most 20 s) until every nats-server has a route to every other and the JetStream meta
 * group has a leader: workers and the gateway then find the whole cluster, and streams or KV
 * buckets can be created with 3 replicas.
 */
async function natsReady() {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const states = await Promise.all(natsUrls.map(async (_, i) => [await monitor(i, "/routez"), await monitor(i, "/jsz")]));
    const ready = states.every(([routez, jsz]) => routez && routez.num_routes >= natsCount - 1 && jsz && (natsCount === 1 || jsz.meta_cluster?.leader));
    if (ready) return console.error(`[cluster] NATS ready: ${natsCount} server(s)${natsCount > 1 ? ", routed, JetStream meta leader elected" : ", JetStream on"}`);
    if (Date.now() > deadline) {
      console.error(`[cluster] NATS not ready after 20 s: ${JSON.stringify(states.map(([r, j]) => ({ routes: r?.num_routes, leader: j?.meta_cluster?.leader })))}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A nats-server's monitoring endpoint's JSON (undefined when it does not answer). */
async function monitor(i, path) {
  try {
    return await (await fetch(`http://127.0.0.1:${port("nats-monitor-port", i)}${path}`)).json();
  } catch {
    return undefined;
  }
}

/**
 * Waits (at most 60 s: loading models takes a while on a busy machine) until `n` workers hold a
 * NATS connection (their connection names, on the servers' /connz), so the gateway finds them
 * when it starts.
 */
async function workersConnected(n) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const lists = await Promise.all(natsUrls.map((_, i) => monitor(i, "/connz?limit=1024")));
    const workers = lists.flatMap((l) => l?.connections ?? []).filter((c) => c.name?.startsWith("modelnode-worker-"));
    if (workers.length >= n) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  console.error(`[cluster] fewer than ${n} workers connected to NATS after 60 s; starting the gateway anyway`);
}
