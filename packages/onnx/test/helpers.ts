/** Shared test setup: the bundled tiny model (built if missing) and pipelines over it. */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isCodedError, type GenerationEvent, type GenerationResult } from "@modelnode/core/pipeline";
import { buildModel, buildTinyModel, type ModelPreset } from "@modelnode/model-builder";
import { createOnnxPipeline, type OnnxPipeline, type OnnxPipelineOptions } from "../src/index.js";
import { loadModel, type LoadedModel } from "../src/engine/loaded-model.js";
import { silentLogger } from "../src/shared/logger.js";

/** <repo>/models (this file runs from packages/onnx/dist/test). */
export const MODELS_DIR = fileURLToPath(new URL("../../../../models", import.meta.url));
export const TINY_MODEL_DIR = join(MODELS_DIR, "tiny-gpt2");

export function ensureTinyModel(): string {
  buildTinyModel({ out: TINY_MODEL_DIR, ifMissing: true });
  return TINY_MODEL_DIR;
}

/** <repo>/models/<preset>, built when missing or stale. */
export function ensureModel(preset: ModelPreset): string {
  const dir = join(MODELS_DIR, preset);
  buildModel({ out: dir, model: preset, ifMissing: true });
  return dir;
}

/** A model loaded on this thread (for tests of the engine's parts), one intra-op thread. */
export function loadTestModel(preset: ModelPreset): Promise<LoadedModel> {
  return loadModel(preset, ensureModel(preset), { threads: 1, spinning: false, sessionOptions: {}, logger: silentLogger });
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

export async function tinyPipeline(options: Partial<OnnxPipelineOptions> = {}): Promise<OnnxPipeline> {
  ensureTinyModel();
  return createOnnxPipeline({ models: { tiny: TINY_MODEL_DIR }, ...options });
}

/** A temp copy of the tiny model to break; removed by the returned cleanup. */
export function copyTinyModel(): { dir: string; cleanup: () => void } {
  ensureTinyModel();
  const parent = mkdtempSync(join(tmpdir(), "modelnode-onnx-test-"));
  const dir = join(parent, "tiny-gpt2");
  cpSync(TINY_MODEL_DIR, dir, { recursive: true });
  return { dir, cleanup: () => rmSync(parent, { recursive: true, force: true }) };
}

/** For assert.rejects: matches a coded error (core's ProtocolError) with this code and a message in the project's style. */
export function pipelineError(code: string) {
  return (error: unknown) => {
    if (!isCodedError(error)) throw new Error(`expected a coded error ${code}, got ${String(error)}`);
    if (error.code !== code) throw new Error(`expected code ${code}, got ${error.code}: ${error.message}`);
    if (!/^[A-Z].*\.$/s.test(error.message)) throw new Error(`message not in the project's style: ${error.message}`);
    return true;
  };
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/** Waits until `condition()` holds (polling every 5 ms), failing after `timeoutMs`. */
export async function eventually(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A stream's text pieces and its final result. */
export async function streamed(events: AsyncIterable<GenerationEvent>): Promise<{ pieces: string[]; result: GenerationResult }> {
  const pieces: string[] = [];
  for await (const event of events) {
    if (event.kind === "text") pieces.push(event.text);
    else return { pieces, result: event.result };
  }
  throw new Error("the stream ended without a result");
}

/** A result without its timings (which differ run to run): what "the same output" compares. */
export function outcome(result: GenerationResult): Omit<GenerationResult, "timings"> {
  const { timings: _timings, ...rest } = result;
  // How much of the prompt the prefix cache served depends on what ran before, not the outcome.
  const { cachedTokens: _cached, ...usage } = rest.usage;
  return { ...rest, usage };
}

/**
 * A bare onnxruntime-node run of a model folder's graph, without the engine: the logits after the
 * last of `ids` (the whole sequence fed at once, an empty cache, one row). What tests check the
 * engine's numbers against.
 */
export async function bareModel(dir: string): Promise<{ lastLogits(ids: readonly number[]): Promise<Float32Array>; release(): Promise<void> }> {
  const { InferenceSession, Tensor } = await import("onnxruntime-node");
  const session = await InferenceSession.create(join(dir, "onnx", "model.onnx"));
  const pasts = session.inputNames.filter((name) => name.startsWith("past_key_values."));
  const meta = session.inputMetadata.find((m) => m.name === pasts[0]);
  const shape = meta?.isTensor ? meta.shape : [];
  const [heads, headDim] = [Number(shape[1]), Number(shape[3])];
  return {
    async lastLogits(ids) {
      const n = ids.length;
      const feeds: Record<string, InstanceType<typeof Tensor>> = {
        input_ids: new Tensor("int64", BigInt64Array.from(ids, BigInt), [1, n]),
        attention_mask: new Tensor("int64", new BigInt64Array(n).fill(1n), [1, n]),
        position_ids: new Tensor("int64", BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), [1, n]),
      };
      for (const name of pasts) feeds[name] = new Tensor("float32", new Float32Array(0), [1, heads, 0, headDim]);
      const logits = (await session.run(feeds)).logits;
      const vocab = logits.dims[2];
      return (logits.data as Float32Array).slice((n - 1) * vocab, n * vocab);
    },
    release: () => session.release(),
  };
}

/** log softmax(values / temperature) in float64. */
export function logSoftmax(values: ArrayLike<number>, temperature = 1): number[] {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i] / temperature);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp(values[i] / temperature - max);
  const logSum = Math.log(sum);
  return Array.from(values, (v) => v / temperature - max - logSum);
}
