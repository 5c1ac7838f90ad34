/**
 * float32 → IEEE 754 half-precision words, for the float16 weights of the fp16 and q4f16 graphs
 * (Node 20 has no Float16Array). The same rounding as @modelnode/onnx's float16.ts, which reads
 * them back; copied so the builder does not depend on the runtime.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** One float → the nearest float16 word (round to nearest even; overflow to ±Infinity). */
export function floatToHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half; // a carry into the exponent is the correct rounding (up to Infinity)
}

/** float32 values → float16 words. */
export function floatToHalf(data: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = floatToHalfBits(data[i]);
  return out;
}
