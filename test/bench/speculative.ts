/**
 * Speculative-decoding bench (npm run bench:speculative): prompt lookup against plain decoding, in
 * one run, on one pipeline per model (the request field `speculative` switches it per request, so
 * both sides share the process, the threads and the warm caches), greedy, alternating sides each
 * round so that drift on a shared machine hits both alike:
 * - the copy-friendly model (copy-gpt2-small: gpt2-small's size and run cost, whose greedy text
 *   repeats itself every 16 tokens), one stream, each prompt ending in one such cycle of text (what
 *   the model then copies, as a model copies a document it edits or quotes): where prompt lookup
 *   pays (target ≥ 2×);
 * - the plain bench model (gpt2-small, whose text does not repeat), one stream and 8 streams:
 *   where guesses fail and speculation must back off (targets ≥ 0.95× and ≥ 1.0×).
 * Each line prints tokens/s with and without speculation, their ratio (median of the rounds'
 * ratios), and the share of guessed tokens accepted.
 *
 *   node test/dist/bench/speculative.js [--rounds 5] [--tokens 64] [--threads N]
 */
import { join } from "node:path";
import { buildModel } from "@modelnode/model-builder";
import { createOnnxPipeline, type OnnxPipeline } from "@modelnode/onnx";
import { REPO_ROOT } from "../support/paths.js";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg("rounds", 5);
const TOKENS = arg("tokens", 64);
const THREADS = arg("threads", 0);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Text the copy model repeats (a cycle of its greedy text), appended to its prompts; "" for the plain model. */
let copied = "";

function promptFor(stream: number, round: number): string {
  return `Round ${round}, stream ${stream}: please write a short story about the sea and the ships on it.${copied}`;
}

/** `streams` greedy generations at once; tokens/s over the whole phase. */
async function phase(pipeline: OnnxPipeline, modelId: string, streams: number, round: number, speculative: boolean): Promise<number> {
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: streams }, (_, stream) => pipeline.generate({ modelId, prompt: promptFor(stream, round), maxTokens: TOKENS, temperature: 0, speculative })),
  );
  const tokens = results.reduce((sum, result) => sum + result.usage.completionTokens, 0);
  return tokens / ((performance.now() - started) / 1000);
}

async function line(name: string, pipeline: OnnxPipeline, streams: number, target: number): Promise<void> {
  const ratios: number[] = [];
  const plain: number[] = [];
  const guessed: number[] = [];
  const before = pipeline.stats();
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which side goes first.
    const order = round % 2 === 0 ? [false, true] : [true, false];
    const rates: Record<string, number> = {};
    for (const speculative of order) rates[String(speculative)] = await phase(pipeline, "m", streams, round, speculative);
    plain.push(rates.false);
    guessed.push(rates.true);
    ratios.push(rates.true / rates.false);
  }
  const after = pipeline.stats();
  const drafted = after.specDraftTokens - before.specDraftTokens;
  const accepted = after.specAcceptedTokens - before.specAcceptedTokens;
  const ratio = median(ratios);
  console.log(
    `${name.padEnd(34)} plain ${median(plain).toFixed(1).padStart(6)} tok/s  prompt lookup ${median(guessed).toFixed(1).padStart(6)} tok/s  ` +
      `ratio ${ratio.toFixed(2)}× (target ≥ ${target.toFixed(2)}×: ${ratio >= target ? "met" : "MISSED"})  ` +
      `guesses ${drafted}, accepted ${drafted > 0 ? ((100 * accepted) / drafted).toFixed(0) : "-"}%  rounds ${ratios.map((r) => r.toFixed(2)).join(" ")}`,
  );
}

async function main(): Promise<void> {
  const options = { speculative: { method: "ngram" as const }, ...(THREADS > 0 ? { threads: THREADS } : {}) };
  console.log(`speculative bench: ${ROUNDS} rounds, ${TOKENS} tokens per generation, greedy`);
  for (const [preset, lines] of [
    ["copy-gpt2-small", [["copy-friendly model, 1 stream", 1, 2]]],
    ["gpt2-small", [["plain bench model, 1 stream", 1, 0.95], ["plain bench model, 8 streams", 8, 1]]],
  ] as const) {
    const dir = join(REPO_ROOT, "models", preset);
    buildModel({ out: dir, model: preset, ifMissing: true });
    const pipeline = await createOnnxPipeline({ models: { m: dir }, ...options });
    try {
      await pipeline.generate({ modelId: "m", prompt: "warm up", maxTokens: 8 }); // first runs allocate
      copied = preset === "copy-gpt2-small" ? (await pipeline.generate({ modelId: "m", prompt: " ships", maxTokens: 16, speculative: false })).text : "";
      for (const [name, streams, target] of lines) await line(name, pipeline, streams, target);
    } finally {
      await pipeline.close();
    }
  }
}

await main();
