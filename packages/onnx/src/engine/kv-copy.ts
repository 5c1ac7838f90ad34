/**
 * Copies of key/value cache data between batches' tensors (kv-batch.ts) and the prefix cache's
 * blocks (prefix-cache.ts): [rows, heads, columns, head_dim] layouts, float32 or float16 bits.
 */
import type { Tensor } from "onnxruntime-node";

/** One cache tensor's elements (float32, or float16 as raw bits). */
export type CacheData = Float32Array | Uint16Array;

export function allocateCache(type: Tensor.Type, length: number): CacheData {
  if (type === "float32") return new Float32Array(length);
  if (type === "float16") return new Uint16Array(length);
  throw new Error(`unsupported cache element type ${type}`);
}

/**
 * Copies the `segments` (column runs) of `sourceRow` in a [*, heads, sourceColumns, headDim] tensor
 * to `targetRow` of a [*, heads, targetColumns, headDim] tensor, packed from column `targetStart`.
 */
export function copySegments(
  source: CacheData,
  sourceColumns: number,
  sourceRow: number,
  segments: readonly [number, number][],
  target: CacheData,
  targetColumns: number,
  targetRow: number,
  targetStart: number,
  heads: number,
  headDim: number,
): void {
  for (let h = 0; h < heads; h++) {
    const from = (sourceRow * heads + h) * sourceColumns * headDim;
    let to = ((targetRow * heads + h) * targetColumns + targetStart) * headDim;
    for (const [start, end] of segments) {
      target.set(source.subarray(from + start * headDim, from + end * headDim), to);
      to += (end - start) * headDim;
    }
  }
}
