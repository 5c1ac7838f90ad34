/**
 * `pnpm bench:dispatch`: server CPU per heartbeat through modelnode's full stack against a bare
 * ws server that parses and answers the same JSON, measured in one run, alternating rounds,
 * and printed as a ratio (target ≤ 1.15×). CPU time, not wall time, so the client's own work
 * and machine noise matter less.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 16);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 30_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);

interface Server {
  child: ChildProcess;
  port: number;
}

function ask<T>(child: ChildProcess, msg: string): Promise<T> {
  return new Promise((resolve) => {
    child.once("message", (m) => resolve(m as T));
    child.send(msg);
  });
}

async function startServer(mode: "bare" | "node"): Promise<Server> {
  const child = fork(fileURLToPath(new URL("./dispatch-server.js", import.meta.url)), [mode], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const { port } = await new Promise<{ port: number }>((resolve) => child.once("message", (m) => resolve(m as { port: number })));
  return { child, port };
}

/** Sends `total` heartbeats over CONNECTIONS sockets, WINDOW outstanding per socket. */
async function drive(port: number, total: number): Promise<number> {
  const sockets = await Promise.all(
    Array.from({ length: CONNECTIONS }, () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
      return new Promise<WebSocket>((resolve) => ws.once("open", () => resolve(ws)));
    }),
  );
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

const bare = await startServer("bare");
const node = await startServer("node");
// Warm-up: JIT both servers before measuring.
await drive(bare.port, 5000);
await drive(node.port, 5000);

const bareRuns: number[] = [];
const nodeRuns: number[] = [];
const ratios: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order so drift in machine load hits both sides alike; the ratio of each
  // adjacent pair cancels slow drift, and the median of those ratios discards noisy pairs.
  const order = round % 2 === 0 ? [bare, node] : [node, bare];
  const cpu = new Map<Server, number>();
  for (const server of order) cpu.set(server, (await measure(server)).cpuPerMsgUs);
  bareRuns.push(cpu.get(bare)!);
  nodeRuns.push(cpu.get(node)!);
  ratios.push(cpu.get(node)! / cpu.get(bare)!);
}
console.log(`dispatch bench: ${MESSAGES} heartbeats × ${ROUNDS} rounds, ${CONNECTIONS} connections, window ${WINDOW}`);
console.log(
  `server CPU per heartbeat (median): bare ws ${median(bareRuns).toFixed(2)} µs   modelnode ${median(nodeRuns).toFixed(2)} µs`,
);
console.log(`ratio modelnode / bare ws (median of paired rounds): ${median(ratios).toFixed(3)}×   (target ≤ 1.15×)`);
for (const s of [bare, node]) s.child.send("exit");
