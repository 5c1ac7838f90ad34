/**
 * The baseline of the load bench: the plainest batched greedy loop with a KV cache, straight on
 * onnxruntime-node, with the session options the engine uses. B rows of 16 prompt tokens are
 * prefilled in one run, then every decode step feeds each row its argmax. Two figures: tokens/s
 * over the whole run (prefill included: the same work the node does for B requests) and over the
 * decode steps only (what the CPU does at batch B once requests are running).
 */
import { InferenceSession, Tensor } from "onnxruntime-node";
import { DEFAULT_OPTIONS, sessionOptionsFor } from "@modelnode/onnx";

export interface BareResult {
  /** Generated tokens per second, the prompts' prefill included. */
  tokensPerSecond: number;
  /** The same over the decode steps only. */
  decodeTokensPerSecond: number;
  msPerStep: number;
  /** The prefill run (the first token's time). */
  prefillMs: number;
  /** Each decode step's time, in order. */
  stepMs: number[];
}

export async function bareLoop(modelPath: string, threads: number) {
  const session = await InferenceSession.create(modelPath, sessionOptionsFor(threads > 0 ? threads : DEFAULT_OPTIONS.threads, DEFAULT_OPTIONS.spinning));
  const pasts = session.inputNames.filter((name) => name.startsWith("past_key_values."));
  const meta = session.inputMetadata.find((m) => m.name === pasts[0]);
  const shape = meta?.isTensor ? meta.shape : [];
  const [heads, headDim] = [Number(shape[1]), Number(shape[3])];

  async function run(batch: number, tokens: number, salt: string): Promise<BareResult> {
    const promptLength = 16;
    const seed = [...salt].reduce((sum, c) => sum + c.charCodeAt(0), 0);
    let ids = BigInt64Array.from({ length: batch * promptLength }, (_, i) => BigInt((seed * 31 + i * 997) % 50000));
    let width = promptLength;
    let columns = 0;
    let feeds: Record<string, Tensor> = {};
    for (const name of pasts) feeds[name] = new Tensor("float32", new Float32Array(0), [batch, heads, 0, headDim]);
    let decodeStart = 0;
    const stepMs: number[] = [];
    const start = performance.now();
    let stepStart = start;
    for (let step = 0; step <= tokens; step++) {
      const now = performance.now();
      if (step === 1) decodeStart = now;
      if (step > 1) stepMs.push(now - stepStart);
      stepStart = now;
      const total = columns + width;
      const positions = BigInt64Array.from({ length: batch * width }, (_, i) => BigInt(columns + (i % width)));
      feeds.input_ids = new Tensor("int64", ids, [batch, width]);
      feeds.attention_mask = new Tensor("int64", new BigInt64Array(batch * total).fill(1n), [batch, total]);
      feeds.position_ids = new Tensor("int64", positions, [batch, width]);
      const outputs = await session.run(feeds);
      const logits = outputs.logits.data as Float32Array;
      const vocab = outputs.logits.dims[2];
      const next = new BigInt64Array(batch);
      for (let row = 0; row < batch; row++) next[row] = BigInt(argmax(logits.subarray(((row + 1) * width - 1) * vocab, (row + 1) * width * vocab)));
      feeds = {};
      for (const name of pasts) feeds[name] = outputs[name.replace("past_key_values", "present")] as Tensor;
      ids = next;
      columns = total;
      width = 1;
    }
    const end = performance.now();
    if (tokens > 0) stepMs.push(end - stepStart);
    const ms = end - decodeStart;
    // The prefill run yields the first token, so a run of `tokens` steps generates tokens + 1 per row.
    return { tokensPerSecond: (batch * (tokens + 1)) / ((end - start) / 1000), decodeTokensPerSecond: (batch * tokens) / (ms / 1000), msPerStep: ms / tokens, prefillMs: decodeStart - start, stepMs };
  }

  return { run, release: () => session.release() };
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
