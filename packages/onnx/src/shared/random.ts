/**
 * Small seeded PRNGs. Sampling must be reproducible from a `seed`, and the tiny model's weights
 * must be identical on every machine, so neither can use Math.random.
 */

/** mulberry32's state for a seed: what `Mulberry32` starts from. */
export function mulberry32Seed(seed: number): number {
  return (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
}

/**
 * mulberry32: a fast 32-bit generator; floats in [0, 1). Its whole state is one uint32 (`state`,
 * advanced by a constant per draw), so a generation's sampler can be continued elsewhere from it.
 */
export class Mulberry32 {
  constructor(public state: number) {}

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** mulberry32 from a seed, as a function. */
export function createRandom(seed: number): () => number {
  const generator = new Mulberry32(mulberry32Seed(seed));
  return () => generator.next();
}

/** Standard normal samples (Box–Muller) from a uniform generator. */
export function createNormal(random: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const u = 1 - random(); // (0, 1], so log(u) is finite
    const v = random();
    const radius = Math.sqrt(-2 * Math.log(u));
    spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  };
}
