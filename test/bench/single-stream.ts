/**
 * `npm run bench:load -- --single`: one stream through the example node against the bare batch-1
 * loop (bare-loop.ts), the same number of generated tokens each, in one run, alternating which
 * goes first each round so that drift on a shared machine hits both alike. Tokens/s over the
 * whole request (prompt included: what a user waits for) and per decode step (the median gap
 * between chunks against the bare loop's ms per step), and "one stream vs bare batch-1 loop": the
 * median of each round's ratio.
 */
import { join } from "node:path";
import type WebSocket from "ws";
import { bareLoop } from "./bare-loop.js";
import { connect, startBenchNode } from "./bench-node.js";
import { freePort } from "../support/ports.js";

const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * q)];
const median = (values: number[]) => quantile(values, 0.5);
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

interface NodeRun {
  tokensPerSecond: number;
  /** The median gap between chunks. */
  msPerToken: number;
  /** The mean gap between chunks (what the decode steps add up to). */
  meanMsPerToken: number;
  /** Send → first chunk. */
  firstTokenMs: number;
  /** Last chunk → the response. */
  tailMs: number;
  /** Every gap between chunks. */
  gaps: number[];
  tokens: number;
}

/** One streaming inference_request of `maxTokens` at temperature 0, timed from send to its response. */
function generate(socket: WebSocket, prompt: string, maxTokens: number): Promise<NodeRun> {
  const id = `single-${Math.random().toString(36).slice(2)}`;
  const sent = performance.now();
  const chunks: number[] = [];
  return new Promise((resolve, reject) => {
    const onMessage = (data: WebSocket.RawData) => {
      const message = JSON.parse(String(data));
      if (message.header?.correlation_id !== id) return;
      if (message.header.message_type === "inference_chunk") {
        chunks.push(performance.now());
        return;
      }
      socket.off("message", onMessage);
      if (message.header.message_type !== "inference_response") return reject(new Error(JSON.stringify(message)));
      const tokens: number = message.usage.completion_tokens;
      const now = performance.now();
      const gaps = chunks.slice(1).map((at, i) => at - chunks[i]);
      resolve({
        tokensPerSecond: tokens / ((now - sent) / 1000),
        msPerToken: median(gaps),
        meanMsPerToken: (chunks[chunks.length - 1] - chunks[0]) / gaps.length,
        firstTokenMs: chunks[0] - sent,
        tailMs: now - chunks[chunks.length - 1],
        gaps,
        tokens,
      });
    };
    socket.on("message", onMessage);
    socket.send(
      JSON.stringify({
        header: { message_id: id, message_type: "inference_request", protocol_version: "2.0", timestamp: new Date().toISOString() },
        model_id: "bench",
        prompt,
        max_tokens: maxTokens,
        temperature: 0,
        stream: true,
      }),
    );
  });
}

export async function singleStream(options: { modelDir: string; rounds: number; tokens: number; threads: number }): Promise<void> {
  const { modelDir, rounds, tokens, threads } = options;
  const port = await freePort();
  const node = await startBenchNode(port, modelDir, threads);
  const bare = await bareLoop(join(modelDir, "onnx", "model.onnx"), threads);
  const socket = await connect(`ws://127.0.0.1:${port}`);
  const rows: { bare: number; bareMsPerStep: number; barePrefillMs: number; bareSteps: number[]; node: NodeRun }[] = [];
  try {
    await bare.run(1, 32, "warm-up");
    await generate(socket, "A warm-up prompt about the sea.", 32);
    for (let round = 0; round < rounds; round++) {
      const prompt = `Round ${round}: please write a long story about the sea and its ships.`;
      // The bare loop's `tokens` decode steps generate tokens + 1 (its prefill yields the first).
      const runBare = () => bare.run(1, tokens, prompt);
      const runNode = () => generate(socket, prompt, tokens + 1);
      let b;
      let n;
      if (round % 2 === 0) {
        b = await runBare();
        n = await runNode();
      } else {
        n = await runNode();
        b = await runBare();
      }
      rows.push({ bare: b.tokensPerSecond, bareMsPerStep: b.msPerStep, barePrefillMs: b.prefillMs, bareSteps: b.stepMs, node: n });
      console.error(`round ${round + 1}/${rounds}: bare ${fmt(b.tokensPerSecond)} tok/s, node ${fmt(n.tokensPerSecond)} tok/s (${n.tokens} tokens)`);
    }
  } finally {
    socket.close();
    node.kill("SIGTERM");
    await bare.release();
  }
  const ratios = rows.map((r) => r.node.tokensPerSecond / r.bare);
  const stepRatios = rows.map((r) => r.node.msPerToken / r.bareMsPerStep);
  console.log(`\nsingle-stream bench: ${rounds} rounds, ${tokens + 1} tokens per generation, ${threads > 0 ? `${threads} threads` : "default threads"}, ${modelDir}\n`);
  console.log(`bare batch-1 loop: ${rows.map((r) => fmt(r.bare)).join(", ")} tok/s (median ${fmt(median(rows.map((r) => r.bare)))}); ms/step ${fmt(median(rows.map((r) => r.bareMsPerStep)), 2)}`);
  console.log(`one stream:        ${rows.map((r) => fmt(r.node.tokensPerSecond)).join(", ")} tok/s (median ${fmt(median(rows.map((r) => r.node.tokensPerSecond)))}); ms/token ${fmt(median(rows.map((r) => r.node.msPerToken)), 2)}`);
  console.log(`one stream vs bare batch-1 loop: ${fmt(median(ratios), 3)} (tokens/s, median of paired rounds: ${ratios.map((r) => fmt(r, 3)).join(", ")}; target ≥ 0.95)`);
  console.log(`one stream ms/token / bare ms/step: ${fmt(median(stepRatios), 3)} (decode only)`);
  // Where a request's time goes, against the bare loop's: its first token (the prompt's way in,
  // tokenizing, the prefill), its decode steps (mean, so that slow steps count), the response.
  const meanRatios = rows.map((r) => r.node.meanMsPerToken / r.bareMsPerStep);
  const pick = (f: (r: (typeof rows)[number]) => number) => fmt(median(rows.map(f)), 1);
  console.log(`breakdown (medians): first token ${pick((r) => r.node.firstTokenMs)} ms (bare prefill ${pick((r) => r.barePrefillMs)} ms); mean ms/token ${pick((r) => r.node.meanMsPerToken)} vs bare mean ms/step ${pick((r) => r.bareMsPerStep)} (ratio ${fmt(median(meanRatios), 3)}: ${meanRatios.map((r) => fmt(r, 3)).join(", ")}); last chunk → response ${pick((r) => r.node.tailMs)} ms`);
  // The fastest steps are the least touched by other work on a shared machine: what a step costs
  // when nothing gets in its way, the node's against the bare loop's.
  const fast = (values: number[]) => `p10 ${fmt(quantile(values, 0.1), 2)} / p25 ${fmt(quantile(values, 0.25), 2)}`;
  console.log(`fastest steps, all rounds: node ms/token ${fast(rows.flatMap((r) => r.node.gaps))}; bare ms/step ${fast(rows.flatMap((r) => r.bareSteps))}`);
}
