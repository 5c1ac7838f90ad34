/**
 * Load bench (npm run bench:load): the example node under streaming load from many WebSocket
 * connections, against what the CPU does with a bare batched onnxruntime-node loop, in one run,
 * on the GPT-2-small-shaped bench model (generated on first use into models/gpt2-small).
 *
 * Each round, alternating so that drift on a shared machine hits both sides alike:
 * - bare loop at batch 1, 4, 8: B prompts prefilled together, then greedy decode steps (the same
 *   session options as the engine): tokens/s with the prefill (the baseline of the ratio: the same
 *   work the node does) and over the decode steps only;
 * - the node (a child process running the example CLI) with 1, 4, 8 streams: each stream sends
 *   streaming inference_requests back to back for --seconds (max_tokens varied around --tokens so
 *   that streams fall out of step, as real clients do): tokens/s while every stream is running
 *   (from the moment each has its first token to the deadline — what "N concurrent streams"
 *   sustain, compared with the bare loop's N lockstep rows), and over the whole phase (its
 *   ramp-up and the tail after the deadline, when fewer streams run, included); inter-token gaps;
 *   time to first token (of each stream's later requests; the first ones, all sent at once, are
 *   reported apart);
 * - 8 streams plus one long (~400-word) prompt: its time to first token, and the same prompt alone.
 * A heartbeat connection (in a process of its own) measures round trips while the node is loaded,
 * and for a few seconds while it is idle: the machine's own floor.
 *
 *   node test/dist/bench/load.js [--rounds 3] [--tokens 64] [--seconds 8] [--threads N]
 *
 * `--single` measures one thing only, quickly: one stream against the bare batch-1 loop, both
 * generating --tokens (default 128) tokens, alternating, --rounds (default 6) times; it prints
 * "one stream vs bare batch-1 loop" as the median of the paired rounds' ratios (single-stream.ts).
 * With `--model <preset>` it runs on another model-builder preset (built on first use into
 * models/<preset>), e.g. `--model bench-llama`: the ~150M Llama shape with grouped-query attention
 * that issue 21 measured.
 */
import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildModel, MODEL_PRESETS } from "@modelnode/model-builder";
import WebSocket from "ws";
import { bareLoop } from "./bare-loop.js";
import { REPO_ROOT } from "../support/paths.js";
import { freePort } from "../support/ports.js";
import { connect, startBenchNode } from "./bench-node.js";
import { singleStream } from "./single-stream.js";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const SINGLE = process.argv.includes("--single");
const PRESET = modelPreset();
const MODEL_DIR = join(REPO_ROOT, "models", PRESET);
const ROUNDS = arg("rounds", SINGLE ? 6 : 3);
const TOKENS = arg("tokens", SINGLE ? 128 : 64);
const SECONDS = arg("seconds", 8);
const THREADS = arg("threads", 0); // 0: the engine's default
const LONG_PROMPT = "The quick brown fox jumps over the lazy dog while the cat sleeps in the warm sun. ".repeat(25); // ~400 words

/** --model <preset> (--single only): a model-builder preset instead of gpt2-small, e.g. bench-llama (issue 21's shape). */
function modelPreset(): keyof typeof MODEL_PRESETS {
  const i = process.argv.indexOf("--model");
  if (i < 0) return "gpt2-small";
  const name = process.argv[i + 1];
  if (!SINGLE) throw new Error("--model goes with --single (the full load bench's table is for gpt2-small)");
  if (!(name in MODEL_PRESETS)) throw new Error(`unknown preset "${name}"; presets: ${Object.keys(MODEL_PRESETS).join(", ")}`);
  return name as keyof typeof MODEL_PRESETS;
}

const quantile = (values: number[], q: number) => (values.length === 0 ? NaN : [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length - 1) * q + 0.5))]);
const median = (values: number[]) => quantile(values, 0.5);
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

function promptFor(stream: number, request: number): string {
  return `Request ${request} of stream ${stream}: please write a short story about the sea.`;
}

/** Seeded max_tokens around TOKENS (±25%), so streams finish at different steps. */
function tokensFor(stream: number, request: number): number {
  const x = Math.sin(stream * 12.9898 + request * 78.233) * 43758.5453;
  return Math.round(TOKENS * (0.75 + 0.5 * (x - Math.floor(x))));
}

// --- the node ---------------------------------------------------------------------------------

const header = (type: string, id: string) => ({ message_id: id, message_type: type, protocol_version: "2.0", timestamp: new Date().toISOString() });

interface RequestTiming {
  ttftMs: number;
  gapsMs: number[];
  tokens: number;
  /** When each chunk arrived (performance.now()). */
  chunkTimes: number[];
}

/** One streaming connection that sends requests one after another. */
class Stream {
  private constructor(private readonly socket: WebSocket) {}

  static async open(url: string): Promise<Stream> {
    return new Stream(await connect(url));
  }

  request(prompt: string, maxTokens: number): Promise<RequestTiming> {
    const id = `r-${Math.random().toString(36).slice(2)}`;
    const sent = performance.now();
    let last = 0;
    const timing: RequestTiming = { ttftMs: NaN, gapsMs: [], tokens: 0, chunkTimes: [] };
    return new Promise((resolve, reject) => {
      const onMessage = (data: WebSocket.RawData) => {
        const message = JSON.parse(String(data));
        if (message.header?.correlation_id !== id) return;
        const now = performance.now();
        if (message.header.message_type === "inference_chunk") {
          timing.chunkTimes.push(now);
          if (Number.isNaN(timing.ttftMs)) timing.ttftMs = now - sent;
          else timing.gapsMs.push(now - last);
          last = now;
        } else {
          this.socket.off("message", onMessage);
          if (message.header.message_type !== "inference_response") return reject(new Error(JSON.stringify(message)));
          timing.tokens = message.usage.completion_tokens;
          resolve(timing);
        }
      };
      this.socket.on("message", onMessage);
      this.socket.send(JSON.stringify({ header: header("inference_request", id), model_id: "bench", prompt, max_tokens: maxTokens, temperature: 0, stream: true }));
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** The heartbeat probe (heartbeat-probe.ts) in a child process: round trips by label. */
class HeartbeatProbe {
  private constructor(private readonly child: ChildProcess) {}

  static async start(url: string): Promise<HeartbeatProbe> {
    const child = fork(fileURLToPath(new URL("./heartbeat-probe.js", import.meta.url)), [url]);
    await new Promise<void>((resolve, reject) => {
      child.once("message", () => resolve());
      child.once("exit", (code) => reject(new Error(`heartbeat probe exited (${code})`)));
    });
    return new HeartbeatProbe(child);
  }

  /** Round trips from now on count under `label` (null: not recorded). */
  label(label: string | null): void {
    this.child.send({ label });
  }

  report(): Promise<Record<string, number[]>> {
    return new Promise((resolve) => {
      this.child.once("message", (message: { rtts: Record<string, number[]> }) => resolve(message.rtts));
      this.child.send({ report: true });
    });
  }
}

interface NodePhase {
  /** While every stream runs: from the last stream's first token to the deadline. */
  tokensPerSecond: number;
  /** Over the whole phase: all tokens over the time from the first request to the last response. */
  overallTokensPerSecond: number;
  /** Time to first token of requests after each stream's first (arrivals spread out, as in steady use). */
  ttft: number[];
  /** Time to first token of each stream's first request: all of them sent at once. */
  firstWaveTtft: number[];
  gaps: number[];
}

async function nodePhase(url: string, streams: number, round: number, seconds = SECONDS): Promise<NodePhase> {
  const connections = await Promise.all(Array.from({ length: streams }, () => Stream.open(url)));
  const timings: RequestTiming[] = [];
  const firstWave: RequestTiming[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    connections.map(async (stream, s) => {
      for (let r = 0; r === 0 || performance.now() < deadline; r++) (r === 0 ? firstWave : timings).push(await stream.request(promptFor(s, round * 100 + r), tokensFor(s, round * 100 + r)));
    }),
  );
  const finished = performance.now();
  for (const stream of connections) stream.close();
  const all = [...firstWave, ...timings];
  // A chunk may carry more than one token (text held back across a split character): each of a
  // request's chunks counts for its share of the request's tokens.
  const from = Math.max(...firstWave.map((t) => t.chunkTimes[0] ?? Infinity));
  const inWindow = all.reduce((sum, t) => sum + (t.tokens / Math.max(1, t.chunkTimes.length)) * t.chunkTimes.filter((at) => at >= from && at < deadline).length, 0);
  return {
    tokensPerSecond: deadline > from ? inWindow / ((deadline - from) / 1000) : NaN,
    overallTokensPerSecond: all.reduce((sum, t) => sum + t.tokens, 0) / ((finished - started) / 1000),
    ttft: timings.map((t) => t.ttftMs),
    firstWaveTtft: firstWave.map((t) => t.ttftMs),
    gaps: all.flatMap((t) => t.gapsMs),
  };
}

/** 8 streams running, then one long prompt: its time to first token. */
async function longPromptPhase(url: string, round: number): Promise<number> {
  const connections = await Promise.all(Array.from({ length: 8 }, () => Stream.open(url)));
  let stop = false;
  const running = connections.map(async (stream, s) => {
    for (let r = 0; !stop; r++) await stream.request(promptFor(s, round * 100 + 50 + r), tokensFor(s, r));
  });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const long = await Stream.open(url);
  const timing = await long.request(LONG_PROMPT, 4);
  stop = true;
  await Promise.all(running);
  long.close();
  for (const stream of connections) stream.close();
  return timing.ttftMs;
}

// --- main -------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = performance.now();
  const { built } = buildModel({ out: MODEL_DIR, model: PRESET, ifMissing: true });
  if (built) console.error(`built the bench model (${JSON.stringify(MODEL_PRESETS[PRESET])}) in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (SINGLE) return singleStream({ modelDir: MODEL_DIR, rounds: ROUNDS, tokens: TOKENS, threads: THREADS });
  const port = await freePort();
  const node = await startBenchNode(port, MODEL_DIR, THREADS);
  const url = `ws://127.0.0.1:${port}`;
  const probe = await HeartbeatProbe.start(url);
  const bare = await bareLoop(join(MODEL_DIR, "onnx", "model.onnx"), THREADS);
  const batches = [1, 4, 8];
  const bareTps: Record<number, number[]> = { 1: [], 4: [], 8: [] };
  const bareDecodeTps: Record<number, number[]> = { 1: [], 4: [], 8: [] };
  const bareMsPerStep: Record<number, number[]> = { 1: [], 4: [], 8: [] };
  const phases: Record<number, NodePhase[]> = { 1: [], 4: [], 8: [] };
  const longWhileLoaded: number[] = [];
  const longAlone: number[] = [];
  let rtts: Record<string, number[]> = {};
  try {
    // Warm-up: first runs of both sides allocate and fault in memory.
    await bare.run(8, 8, promptFor(0, -1));
    await nodePhase(url, 8, -1, 2);
    probe.label("idle");
    await new Promise((resolve) => setTimeout(resolve, 4000));
    probe.label(null);
    for (let round = 0; round < ROUNDS; round++) {
      for (const b of batches) {
        const result = await bare.run(b, TOKENS, promptFor(b, round));
        bareTps[b].push(result.tokensPerSecond);
        bareDecodeTps[b].push(result.decodeTokensPerSecond);
        bareMsPerStep[b].push(result.msPerStep);
        probe.label(`streams-${b}`);
        phases[b].push(await nodePhase(url, b, round));
        probe.label(null);
        console.error(`round ${round + 1}/${ROUNDS}, batch ${b}: bare ${fmt(result.tokensPerSecond)} tok/s, node ${fmt(phases[b].at(-1)!.tokensPerSecond)} tok/s`);
      }
      probe.label("long-prompt");
      longWhileLoaded.push(await longPromptPhase(url, round));
      probe.label(null);
      const alone = await Stream.open(url);
      longAlone.push((await alone.request(LONG_PROMPT, 4)).ttftMs);
      alone.close();
    }
  } finally {
    rtts = await probe.report();
    node.kill("SIGTERM");
    await bare.release();
  }

  const all = (b: number, pick: (p: NodePhase) => number[]) => phases[b].flatMap(pick);
  console.log(`\nload bench: ${ROUNDS} rounds, ${TOKENS} tokens per request (±25% per stream), streams run ${SECONDS} s per round, GPT-2-small shape (124M, fp32)\n`);
  console.log("| what | batch / streams 1 | 4 | 8 |");
  console.log("| --- | --- | --- | --- |");
  console.log(`| bare loop: tokens/s, prefill included (median of rounds) | ${batches.map((b) => fmt(median(bareTps[b]))).join(" | ")} |`);
  console.log(`| bare loop: tokens/s, decode steps only | ${batches.map((b) => fmt(median(bareDecodeTps[b]))).join(" | ")} |`);
  console.log(`| bare loop: ms per decode step | ${batches.map((b) => fmt(median(bareMsPerStep[b]))).join(" | ")} |`);
  console.log(`| node: tokens/s in all while every stream runs (median of rounds) | ${batches.map((b) => fmt(median(phases[b].map((p) => p.tokensPerSecond)))).join(" | ")} |`);
  console.log(`| node: tokens/s in all over the whole phase (ramp-up and tail included) | ${batches.map((b) => fmt(median(phases[b].map((p) => p.overallTokensPerSecond)))).join(" | ")} |`);
  console.log(`| node: inter-token ms p50 / p99 | ${batches.map((b) => `${fmt(median(all(b, (p) => p.gaps)))} / ${fmt(quantile(all(b, (p) => p.gaps), 0.99))}`).join(" | ")} |`);
  console.log(`| node: time to first token ms p50 / p99 (each stream's later requests) | ${batches.map((b) => `${fmt(median(all(b, (p) => p.ttft)))} / ${fmt(quantile(all(b, (p) => p.ttft), 0.99))}`).join(" | ")} |`);
  console.log(`| node: time to first token ms p50 / max (first requests, sent all at once) | ${batches.map((b) => `${fmt(median(all(b, (p) => p.firstWaveTtft)))} / ${fmt(Math.max(...all(b, (p) => p.firstWaveTtft)))}`).join(" | ")} |`);
  const loaded = Object.entries(rtts).flatMap(([label, values]) => (label === "idle" ? [] : values));
  const line = (values: number[] = []) => `p50 ${fmt(median(values), 2)} ms, p99 ${fmt(quantile(values, 0.99), 2)} ms, max ${fmt(Math.max(...values), 2)} ms (${values.length})`;
  console.log("\nheartbeat round trips (another process, another connection):");
  console.log(`  node idle (the machine's floor)   ${line(rtts.idle)}`);
  for (const b of batches) console.log(`  ${b} stream(s)${" ".repeat(23 - String(b).length)}${line(rtts[`streams-${b}`])}`);
  console.log(`  8 streams + a long prompt          ${line(rtts["long-prompt"])}`);
  console.log(`long prompt (~400 words) time to first token: alone ${fmt(median(longAlone), 0)} ms, while 8 streams run ${fmt(median(longWhileLoaded), 0)} ms`);

  const throughput = median(phases[8].map((p) => p.tokensPerSecond)) / median(bareTps[8]);
  const perToken = median(all(1, (p) => p.gaps)) / median(bareMsPerStep[1]);
  const heartbeat = quantile(loaded, 0.99);
  const ttft = median(all(8, (p) => p.ttft)) / median(all(1, (p) => p.ttft));
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
  console.log("\nratios against the baseline measured in this run:");
  const decodeOnly = median(phases[8].map((p) => p.tokensPerSecond)) / median(bareDecodeTps[8]);
  const wholePhase = median(phases[8].map((p) => p.overallTokensPerSecond)) / median(bareTps[8]);
  const perRound = phases[8].map((p, round) => fmt(p.tokensPerSecond / bareTps[8][round], 3)).join(", ");
  console.log(`  8 streams tokens/s / bare batch-8 tokens/s     ${fmt(throughput, 3)}  (target ≥ 0.85: ${verdict(throughput >= 0.85)}; round by round: ${perRound}; against decode steps only: ${fmt(decodeOnly, 3)}; over the whole phase: ${fmt(wholePhase, 3)})`);
  console.log(`  1 stream ms/token / bare batch-1 ms/step       ${fmt(perToken, 3)}  (target ≤ 1.05: ${verdict(perToken <= 1.05)})`);
  const single = median(phases[1].map((p, round) => p.overallTokensPerSecond / bareTps[1][round]));
  console.log(`  one stream vs bare batch-1 loop (tokens/s)     ${fmt(single, 3)}  (target ≥ 0.95: ${verdict(single >= 0.95)}; max_tokens varies ±25%, requests back to back; npm run bench:load -- --single measures it alone)`);
  console.log(`  heartbeat p99 while loaded                     ${fmt(heartbeat, 2)} ms (target ≤ 10: ${verdict(heartbeat <= 10)}; idle floor ${fmt(quantile(rtts.idle ?? [], 0.99), 2)} ms)`);
  console.log(`  TTFT p50 at 8 streams / at 1 stream            ${fmt(ttft, 2)}  (target ≤ 3: ${verdict(ttft <= 3)}; requests after each stream's first)`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
