/**
 * Inference bench on the bundled tiny model (node scripts/dev.mjs bench inference).
 *
 * Measures, in one run: time to first token, and greedy decode ms/token at a short (7-token) and
 * a long (513-token) context, for the pipeline and for a bare onnxruntime-node greedy loop
 * written here against the same model with the same session options (and the same argmax, so
 * the ratio measures everything else). Runs alternate between the two (order flipped each round)
 * after a warm-up; medians are reported, and ratios as the median of per-round ratios.
 *
 *   node packages/onnx/dist/bench/inference.js [--rounds 21] [--tokens 64] [--threads 1]
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { buildTinyModel } from "../src/tiny-model/build.js";
import { createOnnxPipeline, DEFAULT_OPTIONS, type OnnxPipeline } from "../src/index.js";
import { sessionOptionsFor } from "../src/loaded-model.js";
import { argmax } from "../src/sampler.js";
import { TextTokenizer } from "../src/tokenizer.js";

const MODEL_DIR = fileURLToPath(new URL("../../../../models/tiny-gpt2", import.meta.url));

interface Timing {
  /** ms from request to the first generated token. */
  firstTokenMs: number;
  /** ms per generated token after the first. */
  decodeMsPerToken: number;
  /** CPU time (user + system, this process) per generated token after the first: unlike wall
   * time, it does not count time the process waited for a CPU on a busy machine. */
  decodeCpuMsPerToken: number;
}

/** Process CPU time in ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function timePipeline(pipeline: OnnxPipeline, prompt: string, tokens: number): Promise<Timing> {
  const start = performance.now();
  let first = 0;
  let firstCpu = 0;
  let generated = 0;
  for await (const event of pipeline.stream({ modelId: "tiny", prompt, maxTokens: tokens })) {
    if (event.kind === "text" && first === 0) {
      first = performance.now();
      firstCpu = cpuMs();
    }
    if (event.kind === "done") generated = event.result.usage.completionTokens;
  }
  const end = performance.now();
  const endCpu = cpuMs();
  if (generated !== tokens) throw new Error(`pipeline generated ${generated} tokens, expected ${tokens}`);
  return {
    firstTokenMs: first - start,
    decodeMsPerToken: (end - first) / (tokens - 1),
    decodeCpuMsPerToken: (endCpu - firstCpu) / (tokens - 1),
  };
}

/** The reference: the plainest correct greedy loop with a KV cache, straight on onnxruntime-node. */
class BareGreedyLoop {
  private constructor(
    private readonly session: InferenceSession,
    private readonly layers: number,
    /** [1, heads, 0, head_dim]: an empty cache, read from the graph's input metadata. */
    private readonly emptyCacheDims: number[],
  ) {}

  static async create(threads: number): Promise<BareGreedyLoop> {
    const session = await InferenceSession.create(join(MODEL_DIR, "onnx", "model.onnx"), sessionOptionsFor(threads));
    const meta = session.inputMetadata.find((m) => m.name === "past_key_values.0.key");
    const shape = meta?.isTensor ? meta.shape : [];
    const layers = session.inputNames.filter((n) => n.endsWith(".key")).length;
    return new BareGreedyLoop(session, layers, [1, Number(shape[1]), 0, Number(shape[3])]);
  }

  async time(promptIds: number[], tokens: number): Promise<Timing> {
    const start = performance.now();
    let past: Record<string, Tensor> = {};
    for (let l = 0; l < this.layers; l++) {
      past[`past_key_values.${l}.key`] = new Tensor("float32", new Float32Array(0), this.emptyCacheDims);
      past[`past_key_values.${l}.value`] = new Tensor("float32", new Float32Array(0), this.emptyCacheDims);
    }
    let ids = promptIds;
    let length = 0;
    let first = 0;
    let firstCpu = 0;
    for (let produced = 0; produced < tokens; produced++) {
      const n = ids.length;
      const total = length + n;
      const outputs = await this.session.run({
        input_ids: new Tensor("int64", BigInt64Array.from(ids, BigInt), [1, n]),
        attention_mask: new Tensor("int64", new BigInt64Array(total).fill(1n), [1, total]),
        position_ids: new Tensor("int64", BigInt64Array.from({ length: n }, (_, i) => BigInt(length + i)), [1, n]),
        ...past,
      });
      length = total;
      const logits = (outputs.logits.data as Float32Array).subarray((n - 1) * 50257, n * 50257);
      const best = argmax(logits); // the pipeline's argmax, so the ratio measures everything else
      if (produced === 0) {
        first = performance.now();
        firstCpu = cpuMs();
      }
      ids = [best];
      past = {};
      for (let l = 0; l < this.layers; l++) {
        past[`past_key_values.${l}.key`] = outputs[`present.${l}.key`] as Tensor;
        past[`past_key_values.${l}.value`] = outputs[`present.${l}.value`] as Tensor;
      }
    }
    const end = performance.now();
    const endCpu = cpuMs();
    return {
      firstTokenMs: first - start,
      decodeMsPerToken: (end - first) / (tokens - 1),
      decodeCpuMsPerToken: (endCpu - firstCpu) / (tokens - 1),
    };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

async function main(): Promise<void> {
  const rounds = arg("rounds", 21);
  const tokens = arg("tokens", 64);
  const threads = arg("threads", DEFAULT_OPTIONS.threads);
  buildTinyModel({ out: MODEL_DIR, ifMissing: true });
  const pipeline = await createOnnxPipeline({ models: { tiny: MODEL_DIR }, threads });
  const bare = await BareGreedyLoop.create(threads);

  // Prompts of 8 and ~512 tokens; the bare loop gets exactly the pipeline's ids.
  const tokenizer = new TextTokenizer(
    JSON.parse(readFileSync(join(MODEL_DIR, "tokenizer.json"), "utf8")),
    JSON.parse(readFileSync(join(MODEL_DIR, "tokenizer_config.json"), "utf8")),
  );
  const shortPrompt = "The quick brown fox jumps over the";
  const longPrompt = " the quick brown fox jumps over the lazy dog".repeat(57);
  const cases = [
    { name: "short ctx", prompt: shortPrompt, ids: tokenizer.encode(shortPrompt, true) },
    { name: "long ctx", prompt: longPrompt, ids: tokenizer.encode(longPrompt, true) },
  ];

  console.log(`inference bench: tiny-gpt2 (bundled, 2 layers, n_embd 32, vocab 50257), threads ${threads}, ${tokens} tokens per run, ${rounds} rounds + warm-up, medians`);
  const results = new Map<string, { pipeline: Timing[]; bare: Timing[] }>();
  for (const c of cases) results.set(c.name, { pipeline: [], bare: [] });
  // One case at a time (a long prompt's garbage would otherwise land in the next short run),
  // pipeline and bare alternating within it, the order flipped every round.
  for (const c of cases) {
    for (let round = -3; round < rounds; round++) {
      const runs = [
        async () => ["pipeline", await timePipeline(pipeline, c.prompt, tokens)] as const,
        async () => ["bare", await bare.time(c.ids, tokens)] as const,
      ];
      if (round % 2 !== 0) runs.reverse();
      for (const run of runs) {
        const [who, timing] = await run();
        if (round >= 0) results.get(c.name)![who].push(timing);
      }
    }
  }

  const fmt = (ms: number) => ms.toFixed(3);
  // Ratios are taken per round (pipeline and bare ran back to back), then the median of those:
  // steadier than a ratio of medians on a machine whose load drifts.
  const report = (label: string, pick: (t: Timing) => number, r: { pipeline: Timing[]; bare: Timing[] }) => {
    const p = median(r.pipeline.map(pick));
    const b = median(r.bare.map(pick));
    const ratio = median(r.pipeline.map((t, i) => pick(t) / pick(r.bare[i])));
    console.log(`${label}: pipeline ${fmt(p)}  bare ${fmt(b)}  ratio ${ratio.toFixed(3)}`);
    return p;
  };
  const decode: Record<string, number> = {};
  for (const c of cases) report(`time to first token ms (${c.name}, ${c.ids.length}-token prompt)`, (t) => t.firstTokenMs, results.get(c.name)!);
  for (const c of cases) {
    decode[c.name] = report(`decode ms/token (${c.name}, ${c.ids.length}+ tokens)`, (t) => t.decodeMsPerToken, results.get(c.name)!);
  }
  for (const c of cases) {
    report(`decode CPU ms/token (${c.name}, ${c.ids.length}+ tokens)`, (t) => t.decodeCpuMsPerToken, results.get(c.name)!);
  }
  console.log(`long/short context decode cost (pipeline): ${(decode["long ctx"] / decode["short ctx"]).toFixed(3)}x`);
  console.log("target: pipeline/bare decode ratio ≤ 1.05; CPU time excludes waiting for a CPU on a busy machine");
  await pipeline.close();
  await bare.release();
}

await main();
