/**
 * NATS scale-out bench (npm run bench:nats; docs/scale-out.md#measuring): one gateway
 * (a NatsPipeline in this process: what a gateway node's plugins call) in front of worker
 * processes behind a real nats-server on a free loopback port.
 *
 * The model is a fake engine, not ONNX: a ContinuingFake (test/support/nats.ts: "w0 w1 …",
 * continuing its context like a greedy model) whose worker produces one token at a time, each
 * taking a fixed --token-ms (5 ms): a worker at saturation, 1000/token-ms tokens/s, whatever
 * its number of streams. A real engine in each worker would need a core (or a GPU) per worker;
 * this machine has too few, so the figures measure the NATS path (routing, the hop, failure
 * handling), not model compute.
 *
 * 1. throughput with 1, 2, 4 workers (and 4 behind 2 gateways): --streams (16) streams of --tokens (50);
 *    tokens/s in all, ratio to 1 worker, and how the gateway spread the streams (its assignments);
 * 2. the hop: one stream, --requests (10) requests back to back, through the gateway vs the same
 *    engine called in this process: inter-token gaps p50/p99 and time to first token;
 * 3. dead workers: --kills (5) rounds of --streams streams on 3 workers; SIGKILL the busiest
 *    worker mid-stream, measure from the kill to the next token of each of its streams, and check
 *    every stream's text against an undisturbed run (requests lost, pieces duplicated/missing).
 *    Run with the gateway's defaults (missed-heartbeat checks) and with those checks off (idleMs alone).
 *
 *   node test/dist/bench/nats.js [--token-ms 5] [--streams 16] [--tokens 50] [--requests 10] [--kills 5]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { GenerateRequest, GenerationEvent } from "@modelnode/core/pipeline";
import { NatsPipeline, startWorker, type NatsPipelineOptions } from "@modelnode/nats";
import { ContinuingFake, expectedText, NATS_SERVER, startNatsServer, type NatsServer } from "../support/nats.js";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const TOKEN_MS = arg("token-ms", 5);
const STREAMS = arg("streams", 16);
const TOKENS = arg("tokens", 50);
const REQUESTS = arg("requests", 10);
const KILLS = arg("kills", 5);
const KILL_TOKENS = arg("kill-tokens", 120);
const MODEL = [{ id: "fake", contextLength: 1 << 20, vocabSize: 128, eosTokenIds: [] }];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const quantile = (values: number[], q: number) => (values.length === 0 ? NaN : [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length - 1) * q + 0.5))]);
const median = (values: number[]) => quantile(values, 0.5);
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

/** The fake engine: one token at a time, each TOKEN_MS, on a schedule (no drift from timer lateness). */
function fakeEngine(): ContinuingFake & { onStream?: (request: GenerateRequest) => void } {
  class Engine extends ContinuingFake {
    onStream?: (request: GenerateRequest) => void;
    override stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
      this.onStream?.(request);
      return super.stream(request);
    }
  }
  const engine = new Engine(MODEL);
  let free = 0;
  engine.tokenDelay = () => {
    const now = performance.now();
    free = Math.max(now, free) + TOKEN_MS;
    return sleep(free - now);
  };
  return engine;
}

/** A stream's tag: its prompt is "<tag>: " (plus, on a resume, the text delivered so far). */
const tagOf = (prompt = "") => prompt.slice(0, prompt.indexOf(":"));

// ---- worker mode: node nats.js --worker <url> <name> -------------------------------------------

async function workerMain(url: string, name: string): Promise<void> {
  const engine = fakeEngine();
  // Tell the bench which streams run here (so that it knows whose streams a kill hits).
  engine.onStream = (request) => process.stdout.write(`gen ${tagOf(request.prompt)}\n`);
  const worker = await startWorker({ servers: url, pipeline: engine, name, maxInFlight: 64 });
  // The bench holds our stdin: when it goes (even SIGKILLed), so do we.
  process.stdin.on("close", () => process.exit(0));
  process.stdin.resume();
  process.on("SIGTERM", () => void worker.close().then(() => process.exit(0)));
  process.stdout.write("ready\n");
}

// ---- the bench ---------------------------------------------------------------------------------

const SELF = fileURLToPath(import.meta.url);
const children = new Set<ChildProcess>();
let nats: NatsServer | undefined;

function cleanup(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  if (nats && nats.proc.exitCode === null && nats.proc.signalCode === null) nats.proc.kill("SIGKILL");
}

interface Worker {
  name: string;
  child: ChildProcess;
  /** Every stream tag this worker has started (resumes included). */
  started: string[];
}

async function spawnWorker(url: string, name: string, onGen?: (tag: string, worker: string) => void): Promise<Worker> {
  const child = spawn(process.execPath, [SELF, "--worker", url, name], { stdio: ["pipe", "pipe", "inherit"] });
  children.add(child);
  child.once("exit", () => children.delete(child));
  const w: Worker = { name, child, started: [] };
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code, signal) => reject(new Error(`worker ${name} exited (${code ?? signal}) before it was ready`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line === "ready") resolve();
      else if (line.startsWith("gen ")) {
        w.started.push(line.slice(4));
        onGen?.(line.slice(4), name);
      }
    });
  });
  return w;
}

async function killWorker(w: Worker): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => w.child.once("exit", () => r()));
  w.child.kill("SIGKILL");
  await exited;
}

async function gateway(url: string, expect: string[], options: Partial<NatsPipelineOptions> = {}): Promise<NatsPipeline> {
  const gw = await NatsPipeline.connect({ servers: url, ...options });
  const deadline = Date.now() + 15_000;
  while (!expect.every((n) => gw.workers().some((w) => w.worker === n))) {
    if (Date.now() > deadline) throw new Error(`the gateway did not see workers ${expect.join(", ")}`);
    await sleep(20);
  }
  return gw;
}

interface Run {
  tag: string;
  pieces: string[];
  /** performance.now() of each piece. */
  at: number[];
  started: number;
  error?: unknown;
}

async function consume(pipeline: { stream(r: GenerateRequest): AsyncIterable<GenerationEvent> }, tag: string, maxTokens: number): Promise<Run> {
  const run: Run = { tag, pieces: [], at: [], started: performance.now() };
  try {
    for await (const e of pipeline.stream({ modelId: "fake", prompt: `${tag}: `, maxTokens, temperature: 0 })) {
      if (e.kind === "text") {
        run.at.push(performance.now());
        run.pieces.push(e.text);
      }
    }
  } catch (error) {
    run.error = error;
  }
  return run;
}

const gapsOf = (runs: Run[]) => runs.flatMap((r) => r.at.slice(1).map((t, i) => t - r.at[i]));

// 1. throughput -----------------------------------------------------------------------------------
/** With `gateways` > 1, the streams are dealt out over that many gateways (each knows only its own offers). */
async function throughput(url: string, workers: number, round: number, gateways: number) {
  const ws = await Promise.all(Array.from({ length: workers }, (_, i) => spawnWorker(url, `t${workers}g${gateways}r${round}w${i}`)));
  const gws = await Promise.all(Array.from({ length: gateways }, () => gateway(url, ws.map((w) => w.name))));
  try {
    for (const gw of gws) await consume(gw, "warm", 5);
    // A few heartbeats, so that no gateway still sees another's warm-up as running.
    await sleep(300);
    for (const w of ws) w.started.length = 0;
    const t0 = performance.now();
    const runs = await Promise.all(Array.from({ length: STREAMS }, (_, i) => consume(gws[i % gateways], `s${i}`, TOKENS)));
    const seconds = (performance.now() - t0) / 1000;
    const tokens = runs.reduce((n, r) => n + r.pieces.length, 0);
    const failed = runs.filter((r) => r.error || r.pieces.join("") !== expectedText(TOKENS)).length;
    // The gateways' own counts (the warm-ups included), beside what each worker started.
    const assigned = ws.map((w) => gws.reduce((n, gw) => n + (gw.workerLoads().find((l) => l.worker === w.name)?.assigned ?? 0), 0));
    return { tps: tokens / seconds, failed, spread: ws.map((w) => w.started.length), assigned };
  } finally {
    await Promise.all(gws.map((gw) => gw.close()));
    await Promise.all(ws.map(killWorker));
  }
}

async function inProcessThroughput() {
  const engine = fakeEngine();
  const t0 = performance.now();
  const runs = await Promise.all(Array.from({ length: STREAMS }, (_, i) => consume(engine, `s${i}`, TOKENS)));
  return runs.reduce((n, r) => n + r.pieces.length, 0) / ((performance.now() - t0) / 1000);
}

// 2. the hop --------------------------------------------------------------------------------------
async function hop(url: string) {
  const w = await spawnWorker(url, "hop0");
  const gw = await gateway(url, [w.name]);
  const engine = fakeEngine();
  const sides = { nats: [] as Run[], local: [] as Run[] };
  try {
    await consume(gw, "warm", 10);
    await consume(engine, "warm", 10);
    for (let i = 0; i < REQUESTS; i++) {
      // Alternating, so that drift on a shared machine hits both sides alike.
      sides.nats.push(await consume(gw, `h${i}`, TOKENS));
      sides.local.push(await consume(engine, `h${i}`, TOKENS));
    }
  } finally {
    await gw.close();
    await killWorker(w);
  }
  const ttft = (runs: Run[]) => runs.map((r) => r.at[0] - r.started);
  return {
    gaps: { nats: gapsOf(sides.nats), local: gapsOf(sides.local) },
    ttft: { nats: ttft(sides.nats), local: ttft(sides.local) },
  };
}

// 3. dead workers ---------------------------------------------------------------------------------
interface KillRound {
  /** ms from the kill to the next piece of each stream the victim was running. */
  resume: number[];
  hit: number;
  lost: number;
  duplicated: number;
  missing: number;
  seconds: number;
}

function compare(run: Run, reference: string[]) {
  const seen = new Set<string>();
  let duplicated = 0;
  for (const p of run.pieces) {
    if (seen.has(p)) duplicated++;
    seen.add(p);
  }
  const missing = reference.filter((p) => !seen.has(p)).length;
  const wrong = run.pieces.length !== reference.length || run.pieces.some((p, i) => p !== reference[i]);
  return { duplicated, missing, wrong };
}

async function kills(url: string, label: string, options: Partial<NatsPipelineOptions>) {
  const where = new Map<string, string>(); // stream tag -> the worker that started it last
  const onGen = (tag: string, worker: string) => where.set(tag, worker);
  const pool: Worker[] = await Promise.all([0, 1, 2].map((i) => spawnWorker(url, `${label}0w${i}`, onGen)));
  const gw = await gateway(url, pool.map((w) => w.name), options);
  let next = 3;
  const rounds: KillRound[] = [];
  try {
    // The undisturbed run: every stream's reference text.
    const undisturbed = await Promise.all(Array.from({ length: STREAMS }, (_, i) => consume(gw, `${label}u${i}`, KILL_TOKENS)));
    const reference = undisturbed[0].pieces;
    if (undisturbed.some((r) => r.error || r.pieces.join("") !== reference.join("")) || reference.join("") !== expectedText(KILL_TOKENS)) {
      throw new Error("the undisturbed run did not give the same text for every stream");
    }
    for (let k = 0; k < KILLS; k++) {
      const t0 = performance.now();
      const pending = Array.from({ length: STREAMS }, (_, i) => consume(gw, `${label}k${k}s${i}`, KILL_TOKENS));
      // Mid-stream: about a third of an undisturbed run's length.
      await sleep((KILL_TOKENS * TOKEN_MS * STREAMS) / pool.length / 3);
      const counts = new Map<string, number>();
      for (const [tag, worker] of where) if (tag.startsWith(`${label}k${k}s`)) counts.set(worker, (counts.get(worker) ?? 0) + 1);
      const victim = pool.reduce((a, b) => ((counts.get(b.name) ?? 0) > (counts.get(a.name) ?? 0) ? b : a));
      const hit = [...where].filter(([tag, worker]) => tag.startsWith(`${label}k${k}s`) && worker === victim.name).map(([tag]) => tag);
      const killedAt = performance.now();
      victim.child.kill("SIGKILL");
      // A replacement, so that every round starts with 3 workers.
      const fresh = await spawnWorker(url, `${label}${next++}w`, onGen);
      pool.splice(pool.indexOf(victim), 1, fresh);
      const runs = await Promise.all(pending);
      const round: KillRound = { resume: [], hit: hit.length, lost: 0, duplicated: 0, missing: 0, seconds: (performance.now() - t0) / 1000 };
      for (const run of runs) {
        const c = compare(run, reference);
        if (run.error || c.wrong) round.lost++;
        round.duplicated += c.duplicated;
        round.missing += c.missing;
        // Pieces arriving within 20 ms of the kill were on their way already.
        if (hit.includes(run.tag)) {
          const after = run.at.find((t) => t > killedAt + 20);
          if (after !== undefined) round.resume.push(after - killedAt);
        }
      }
      rounds.push(round);
      const deadline = Date.now() + 15_000;
      while (!pool.every((w) => gw.workers().some((m) => m.worker === w.name))) {
        if (Date.now() > deadline) throw new Error("the replacement worker did not join");
        await sleep(20);
      }
    }
    return { rounds, stats: gw.stats() as unknown as Record<string, number> };
  } finally {
    await gw.close();
    await Promise.all(pool.map(killWorker));
  }
}

async function main(): Promise<void> {
  if (!NATS_SERVER) throw new Error("nats-server is not installed (Debian: apt-get install nats-server)");
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      cleanup();
      process.exit(130);
    });
  }
  process.on("exit", cleanup);
  nats = await startNatsServer();
  // Workers leave when our stdin pipe to them closes; nats-server does not, so a watchdog holding
  // a pipe from us kills it should this process be killed without running its exit handler.
  const watchdog = spawn(
    process.execPath,
    ["-e", `process.stdin.on("close", () => { try { process.kill(${nats.proc.pid}, "SIGKILL"); } catch {} process.exit(0); }); process.stdin.resume();`],
    { stdio: ["pipe", "ignore", "ignore"] },
  );
  children.add(watchdog);
  const started = performance.now();

  console.log(
    `\nNATS bench: fake engine (${TOKEN_MS} ms per token, one token at a time per worker: ${fmt(1000 / TOKEN_MS, 0)} tokens/s at most per worker), ` +
      `not ONNX: this machine has ${availableParallelism()} cores, too few for a real engine per worker. The figures measure the NATS path, not model compute.`,
  );

  // 1.
  // [workers, gateways]
  const sizes = [[1, 1], [2, 1], [4, 1], [4, 2]] as const;
  const tp: Record<string, { tps: number[]; failed: number; spread: number[][]; assigned: number[][] }> = {};
  for (const [n, g] of sizes) tp[`${n}/${g}`] = { tps: [], failed: 0, spread: [], assigned: [] };
  const local: number[] = [];
  for (let round = 0; round < 2; round++) {
    local.push(await inProcessThroughput());
    for (const [n, g] of sizes) {
      const r = await throughput(nats.url, n, round, g);
      const t = tp[`${n}/${g}`];
      t.tps.push(r.tps);
      t.failed += r.failed;
      t.spread.push(r.spread);
      t.assigned.push(r.assigned);
    }
  }
  const base = median(tp["1/1"].tps);
  console.log(`\n1. throughput: ${STREAMS} concurrent streams of ${TOKENS} tokens, one gateway, then two (median of 2 rounds)`);
  console.log(`   the same engine in-process (one worker's ceiling): ${fmt(median(local))} tokens/s`);
  console.log("   | workers | tokens/s | / 1 worker | / (N × 1 worker) | bound by the busiest worker | streams per worker (each round) | gateway's assignments per worker (warm-up included) | failed |");
  console.log("   | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const [n, g] of sizes) {
    const t = tp[`${n}/${g}`];
    const spread = t.spread.map((s) => s.join("/")).join(", ");
    const assigned = t.assigned.map((s) => s.join("/")).join(", ");
    const bound = median(t.spread.map((s) => STREAMS / Math.max(...s)));
    const ratio = median(t.tps) / base;
    console.log(`   | ${n}${g > 1 ? `, ${g} gateways` : ""} | ${fmt(median(t.tps))} | ${fmt(ratio, 2)}× | ${fmt(ratio / n, 2)} | ${fmt(bound, 2)}× | ${spread} | ${assigned} | ${t.failed} |`);
  }
  console.log("   (each generation goes to the worker with the most free capacity; the busiest worker bounds the round. Target: / (N × 1 worker) ≥ 0.9)");

  // 2.
  const h = await hop(nats.url);
  const g = (v: number[]) => `p50 ${fmt(median(v), 2)} / p99 ${fmt(quantile(v, 0.99), 2)} ms`;
  console.log(`\n2. the NATS hop: 1 stream, ${REQUESTS} requests of ${TOKENS} tokens back to back, gateway + 1 worker vs the same engine in-process`);
  console.log(`   inter-token gap   through NATS ${g(h.gaps.nats)}   in-process ${g(h.gaps.local)}   difference p50 ${fmt(median(h.gaps.nats) - median(h.gaps.local), 2)} / p99 ${fmt(quantile(h.gaps.nats, 0.99) - quantile(h.gaps.local, 0.99), 2)} ms`);
  console.log(`   first token       through NATS ${g(h.ttft.nats)}   in-process ${g(h.ttft.local)}   difference p50 ${fmt(median(h.ttft.nats) - median(h.ttft.local), 2)} ms`);

  // 3.
  console.log(`\n3. dead workers: ${KILLS} rounds of ${STREAMS} streams of ${KILL_TOKENS} tokens on 3 worker processes; SIGKILL the busiest mid-stream (then start a replacement)`);
  const configs: [string, Partial<NatsPipelineOptions>, string][] = [
    ["d", {}, "gateway defaults (workers' heartbeats every 100 ms, missedHeartbeats 2, livenessCheckMs 50)"],
    ["i", { missedHeartbeats: 1e9 }, "heartbeat checks off: the stream's own idleMs (1500) alone, as before"],
  ];
  for (const [label, options, what] of configs) {
    const { rounds, stats } = await kills(nats.url, label, options);
    const resume = rounds.flatMap((r) => r.resume);
    const per = (f: (r: KillRound) => number) => rounds.map(f).join("/");
    console.log(`   ${what}:`);
    console.log(`     kill → next token of the victim's streams: p50 ${fmt(median(resume), 0)} ms, max ${fmt(Math.max(...resume), 0)} ms (${resume.length} streams hit in ${rounds.length} kills: ${per((r) => r.hit)})`);
    console.log(`     per kill: requests lost ${per((r) => r.lost)}, pieces duplicated ${per((r) => r.duplicated)}, missing ${per((r) => r.missing)} (target 0/0)`);
    console.log(`     gateway: workerFailures ${stats.workerFailures}, resubmits ${stats.resubmits}; round times ${rounds.map((r) => fmt(r.seconds, 1)).join("/")} s`);
  }
  console.log(`\n(whole bench: ${fmt((performance.now() - started) / 1000, 0)} s)`);
}

if (process.argv[2] === "--worker") {
  await workerMain(process.argv[3], process.argv[4]);
} else {
  main().then(
    () => {
      cleanup();
      process.exit(0);
    },
    (error) => {
      console.error(error);
      cleanup();
      process.exit(1);
    },
  );
}
