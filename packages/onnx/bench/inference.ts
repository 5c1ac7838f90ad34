/**
 * Inference bench on the bundled tiny model (node scripts/dev.mjs bench inference).
 *
 * Measures, in one run: time to first token, and greedy decode ms/token at a short (7-token) and
 * a long (513-token) context, for the pipeline (`pipeline.stream`, text streaming included) and
 * for a bare onnxruntime-node greedy loop written here against the same model (and the same
 * argmax, so the ratio measures everything else). Runs alternate between the two (order flipped
 * each round) after a warm-up; medians are reported, and ratios as the median of per-round ratios
 * with their interquartile range.
 *
 * Two things keep one side's costs out of the other's figures:
 * - Both run on one InferenceSession (the pipeline's). Two sessions of the same model hold their
 *   weights at different addresses, and that alone moved decode time by up to ±4% between two
 *   identical bare loops in one process: a bias of random sign that a ratio would absorb.
 * - Before every timed run the heap is settled (a full GC, then a pause until the process is
 *   idle). The bare loop's 513-token prefill returns [513 × 50257] logits, 100 MB copied into a
 *   fresh ArrayBuffer; V8 answers that external memory with a major GC whose concurrent marking
 *   of the ~45 MB heap ran on helper threads during the *next* timed run, often the pipeline's
 *   (which then showed CPU time well above wall time). Each run now pays only for its own garbage.
 *   That includes the bare loop's own 100 MB at long context, which it pays for during its
 *   decode (its CPU time exceeds its wall time there); the pipeline's chunked prefill does not
 *   create it. So a long-context ratio below 1 is that cost, not a faster pipeline.
 *
 * 41 rounds by default: with 21, the medians moved by about ±5% between back-to-back invocations
 * on a 2-core VM.
 *
 *   node packages/onnx/dist/bench/inference.js [--rounds 41] [--tokens 64] [--threads 1]
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { fileURLToPath } from "node:url";
import { Tensor, type InferenceSession } from "onnxruntime-node";
import { buildTinyModel } from "../src/tiny-model/build.js";
import { DEFAULT_OPTIONS, OnnxPipeline } from "../src/index.js";
import { loadModel } from "../src/loaded-model.js";
import { resolveOptions } from "../src/options.js";
import { argmax } from "../src/sampler.js";

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

const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * q + 0.5)];
const median = (values: number[]) => quantile(values, 0.5);

// A full GC on demand (what --expose-gc gives), without needing the flag on the command line.
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

/**
 * Leaves no garbage or GC work of earlier runs for the next one: a full GC, then short pauses
 * until this process's CPU time stops moving (concurrent sweeping and freeing done; at most 200 ms).
 */
async function settle(): Promise<void> {
  collectGarbage();
  for (let i = 0; i < 40; i++) {
    const before = cpuMs();
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (cpuMs() - before < 0.5) break;
  }
}

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

  /** On `session`, the pipeline's own: see the header for why one session serves both. */
  static create(session: InferenceSession): BareGreedyLoop {
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
}

async function main(): Promise<void> {
  const rounds = arg("rounds", 41);
  const tokens = arg("tokens", 64);
  const threads = arg("threads", DEFAULT_OPTIONS.threads);
  buildTinyModel({ out: MODEL_DIR, ifMissing: true });
  // What createOnnxPipeline does, keeping hold of the loaded model so the bare loop can share
  // its session.
  const options = resolveOptions({ models: { tiny: MODEL_DIR }, threads });
  const model = await loadModel("tiny", MODEL_DIR, options);
  const pipeline = new OnnxPipeline(options, new Map([["tiny", model]]));
  const bare = BareGreedyLoop.create(model.session);

  // Prompts of 8 and ~512 tokens; the bare loop gets exactly the pipeline's ids.
  const tokenizer = model.tokenizer;
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
        await settle();
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
    const ratios = r.pipeline.map((t, i) => pick(t) / pick(r.bare[i]));
    const spread = `[${quantile(ratios, 0.25).toFixed(3)}–${quantile(ratios, 0.75).toFixed(3)}]`;
    console.log(`${label}: pipeline ${fmt(p)}  bare ${fmt(b)}  ratio ${median(ratios).toFixed(3)} ${spread}`);
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
  console.log("ratios: median of per-round ratios [interquartile range]; target: pipeline/bare decode ratio ≤ 1.05");
  console.log("CPU time excludes waiting for a CPU on a busy machine; CPU above wall time means other threads (GC) were busy");
  await pipeline.close(); // releases the shared session
}

await main();
