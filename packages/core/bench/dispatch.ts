/**
 * `npm run bench:dispatch`: server CPU per heartbeat through modelnode's full stack against a bare
 * ws server that parses and answers the same JSON, measured in one run, alternating rounds,
 * and printed as a ratio. CPU time, not wall time, so the client's own work and machine noise
 * matter less. Two modes:
 *
 * - `node dispatch.js`: core alone (a node with one heartbeat handler, no plugins, no logs;
 *   target ≤ 1.15×);
 * - `node dispatch.js --example <cli.js> [cli args]`: a server started from that CLI (the example
 *   node's, at its defaults: every plugin, log level info with JSON lines to /dev/null, metrics
 *   on; target ≤ 1.10×), its CPU read through cpu-meter.ts preloaded into it. The bare server
 *   answers with a copy of the node's own heartbeat_ack (the same fields, the same bytes).
 *
 * Each run also measures a third server, the bare one coalescing its writes as core's connections
 * do (the replies of one event-loop turn in one socket write), and prints the ratio against it:
 * the framework's own work, apart from how replies reach the kernel.
 *
 * BENCH_CONNECTIONS, BENCH_WINDOW, BENCH_MESSAGES and BENCH_ROUNDS change the load;
 * BENCH_CPU_PROF_DIR=<dir> runs both servers with --cpu-prof, writing their profiles there.
 */
import { fork, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 16);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 30_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
/** BENCH_CPU_PROF_DIR=<dir>: both servers run with --cpu-prof and write their profiles there (where a server's CPU goes). */
const PROFILE_ARGS = process.env.BENCH_CPU_PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [];

interface Server {
  child: ChildProcess;
  port: number;
}

function ask<T>(child: ChildProcess, msg: string | object): Promise<T> {
  return new Promise((resolve) => {
    child.once("message", (m) => resolve(m as T));
    child.send(msg);
  });
}

async function startServer(mode: "bare" | "bare-template" | "bare-corked" | "bare-template-corked" | "node"): Promise<Server> {
  const child = fork(fileURLToPath(new URL("./dispatch-server.js", import.meta.url)), [mode], {
    execArgv: [...process.execArgv, ...PROFILE_ARGS],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const { port } = await new Promise<{ port: number }>((resolve) => child.once("message", (m) => resolve(m as { port: number })));
  return { child, port };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once("error", reject);
  });
}

function open(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

/** The CLI at `cliPath` as a child process with cpu-meter.ts preloaded; resolves once it answers a WebSocket. */
async function startCli(cliPath: string, args: string[]): Promise<Server> {
  const port = await freePort();
  const env = { ...process.env };
  // Its defaults, not whatever the caller's shell says.
  delete env.MODELNODE_LOG_LEVEL;
  delete env.MODELNODE_LOG_FORMAT;
  const child = fork(cliPath, [...args, "--port", String(port), "--host", "127.0.0.1"], {
    execArgv: ["--import", new URL("./cpu-meter.js", import.meta.url).href, ...PROFILE_ARGS],
    // Logs to /dev/null: written (and formatted) as at a terminal-less start, read by no one.
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    env,
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      (await open(port)).close();
      return { child, port };
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${cliPath} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** One heartbeat_ack of the server at `port`, parsed. */
async function sampleReply(port: number): Promise<Record<string, unknown>> {
  const ws = await open(port);
  const reply = await new Promise<Record<string, unknown>>((resolve) => {
    ws.once("message", (data) => resolve(JSON.parse(String(data))));
    ws.send(`{"header":{"message_id":"sample","message_type":"heartbeat","protocol_version":"2.0","timestamp":"2024-01-01T12:00:00Z"},"worker_id":"worker-0"}`);
  });
  ws.close();
  return reply;
}

/** Sends `total` heartbeats over CONNECTIONS sockets, WINDOW outstanding per socket. */
async function drive(port: number, total: number): Promise<number> {
  const sockets = await Promise.all(Array.from({ length: CONNECTIONS }, () => open(port)));
  const perSocket = Math.ceil(total / CONNECTIONS);
  const started = performance.now();
  await Promise.all(
    sockets.map(
      (ws, s) =>
        new Promise<void>((resolve, reject) => {
          let sent = 0;
          let received = 0;
          const send = () => {
            const id = `${s}-${sent++}`;
            ws.send(
              `{"header":{"message_id":"${id}","message_type":"heartbeat","protocol_version":"2.0","timestamp":"2024-01-01T12:00:00Z"},"worker_id":"worker-${s}"}`,
            );
          };
          ws.on("message", (data) => {
            if (!String(data).includes("heartbeat_ack")) return reject(new Error(`unexpected reply: ${data}`));
            received++;
            if (received === perSocket) return resolve();
            if (sent < perSocket) send();
          });
          for (let i = 0; i < Math.min(WINDOW, perSocket); i++) send();
        }),
    ),
  );
  const elapsed = performance.now() - started;
  for (const ws of sockets) ws.close();
  return elapsed;
}

async function measure(server: Server): Promise<{ cpuPerMsgUs: number; wallMs: number }> {
  await ask(server.child, "reset");
  const wallMs = await drive(server.port, MESSAGES);
  const { cpuMicros } = await ask<{ cpuMicros: number }>(server.child, "read");
  return { cpuPerMsgUs: cpuMicros / MESSAGES, wallMs };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const exampleAt = process.argv.indexOf("--example");
const example = exampleAt >= 0 ? { cli: process.argv[exampleAt + 1], args: process.argv.slice(exampleAt + 2) } : undefined;
const node = example ? await startCli(example.cli, example.args) : await startServer("node");
const bare = await startServer(example ? "bare-template" : "bare");
const bareCorked = await startServer(example ? "bare-template-corked" : "bare-corked");
if (example) {
  const template = await sampleReply(node.port);
  await ask(bare.child, { template });
  await ask(bareCorked.child, { template });
}
const [label, target] = example ? ["example node", 1.1] : ["modelnode", 1.15];
// Warm-up: JIT both servers before measuring.
await drive(bare.port, 5000);
await drive(bareCorked.port, 5000);
await drive(node.port, 5000);

const bareRuns: number[] = [];
const nodeRuns: number[] = [];
const corkedRuns: number[] = [];
const ratios: number[] = [];
const corkedRatios: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order so drift in machine load hits all sides alike; the ratio of each
  // round's pair cancels slow drift, and the median of those ratios discards noisy rounds.
  const order = round % 2 === 0 ? [bare, bareCorked, node] : [node, bareCorked, bare];
  const cpu = new Map<Server, number>();
  for (const server of order) cpu.set(server, (await measure(server)).cpuPerMsgUs);
  bareRuns.push(cpu.get(bare)!);
  corkedRuns.push(cpu.get(bareCorked)!);
  nodeRuns.push(cpu.get(node)!);
  ratios.push(cpu.get(node)! / cpu.get(bare)!);
  corkedRatios.push(cpu.get(node)! / cpu.get(bareCorked)!);
}
console.log(`dispatch bench (${example ? `the example node at its defaults${example.args.length > 0 ? ` + ${example.args.join(" ")}` : ""}` : "core alone"}): ${MESSAGES} heartbeats × ${ROUNDS} rounds, ${CONNECTIONS} connections, window ${WINDOW}`);
console.log(
  `server CPU per heartbeat (median): bare ws ${median(bareRuns).toFixed(2)} µs   bare ws coalescing writes ${median(corkedRuns).toFixed(2)} µs   ${label} ${median(nodeRuns).toFixed(2)} µs`,
);
console.log(
  `ratio ${label} / bare ws (median of paired rounds): ${median(ratios).toFixed(3)}×   (target ≤ ${target.toFixed(2)}×; rounds: ${ratios.map((r) => r.toFixed(2)).join(", ")})`,
);
console.log(
  `ratio ${label} / bare ws coalescing writes as core does (the framework's own work): ${median(corkedRatios).toFixed(3)}×   (rounds: ${corkedRatios.map((r) => r.toFixed(2)).join(", ")})`,
);
for (const s of [bare, bareCorked, node]) s.child.send("exit");
