/**
 * Connection churn: does memory come back after many connections come and go?
 *
 *   node --expose-gc test/dist/churn/churn.js [connections per round, default 1000] [rounds, default 2]
 *
 * Starts the example node in-process (real pipeline, bundled model), warms it up, then per round
 * opens and closes N connections (20 at a time); each sends a heartbeat and a legacy step (a new
 * session id each, so the session table runs into its cap), and every third one closes abruptly:
 * half of those before their replies arrive. After each round it waits for the node to be idle,
 * collects garbage and prints heap used and RSS against the baseline.
 */
import WebSocket from "ws";
import type { ModelNode } from "@modelnode/core/server";
import { createModelNode } from "@modelnode/example-model-node";
import { TINY_MODEL_DIR } from "../support/paths.js";

const PER_ROUND = Number(process.argv[2] ?? 1000);
const ROUNDS = Number(process.argv[3] ?? 2);
const PARALLEL = 20;
const MiB = 1024 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) console.warn("warning: run with node --expose-gc for figures after garbage collection");

async function collect(): Promise<{ heapUsed: number; rss: number }> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}

const header = (type: string, id: string) => ({ message_id: id, message_type: type, protocol_version: "2.0", timestamp: new Date().toISOString() });

/** One connection's life: heartbeat + legacy step, then a polite or an abrupt close. */
function visit(url: string, i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let replies = 0;
    ws.on("error", () => {});
    ws.on("close", () => resolve());
    ws.on("open", () => {
      ws.send(JSON.stringify({ header: header("heartbeat", `hb-${i}`), worker_id: `churn-worker-${i}` }));
      ws.send(JSON.stringify({ session_id: `churn-${i}`, step: 0, input_tensors: { input_ids: "Hello churn" } }));
      if (i % 6 === 0) ws.terminate(); // abrupt, replies still on their way
    });
    ws.on("message", (data) => {
      const msg = JSON.parse(String(data));
      if (msg.error || msg.code) reject(new Error(`unexpected error reply: ${String(data).slice(0, 200)}`));
      if (++replies < 2) return;
      if (i % 3 === 0) ws.terminate(); // abrupt, after the replies
      else ws.close();
    });
  });
}

async function round(url: string, offset: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < PER_ROUND) await visit(url, offset + next++);
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
}

async function idle(node: ModelNode): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = node.getStats();
    if (s.active_connections === 0 && s.in_flight === 0) return;
    if (Date.now() > deadline) throw new Error(`node not idle: ${JSON.stringify({ active: s.active_connections, in_flight: s.in_flight })}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const fmt = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
const delta = (bytes: number) => `${bytes >= 0 ? "+" : ""}${(bytes / MiB).toFixed(1)} MiB`;

const node = await createModelNode({ logLevel: "silent", models: { "tiny-gpt2": TINY_MODEL_DIR } });
const { port } = await node.listen(0, "127.0.0.1");
const url = `ws://127.0.0.1:${port}`;
await round(url, 0); // warm-up: first-use allocations, and the session table filled to its cap
await idle(node);
const before = await collect();
console.log(`baseline (after a warm-up of ${PER_ROUND} connections): heap used ${fmt(before.heapUsed)}, rss ${fmt(before.rss)}`);

for (let r = 1; r <= ROUNDS; r++) {
  const started = Date.now();
  await round(url, r * PER_ROUND);
  await idle(node);
  const after = await collect();
  const stats = node.getStats();
  const pipeline = stats.pipeline as Record<string, number>;
  console.log(
    `after round ${r} (${PER_ROUND} connections in ${((Date.now() - started) / 1000).toFixed(1)} s): ` +
      `heap used ${fmt(after.heapUsed)} (${delta(after.heapUsed - before.heapUsed)}), rss ${fmt(after.rss)} (${delta(after.rss - before.rss)}); ` +
      `connections total ${stats.total_connections}, active ${stats.active_connections}, in flight ${stats.in_flight}, ` +
      `legacy sessions ${pipeline.active_sessions} (evicted ${pipeline.sessions_evicted}), cache ${pipeline.cache_bytes} B, ` +
      `tracked workers ${(stats.heartbeat as { tracked_workers: number }).tracked_workers}`,
  );
}
await node.close();
