/** A small seeded PRNG (mulberry32): the same seed gives the same household every time. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Roughly normal noise with the given spread (sum of three uniforms). */
  noise(spread: number): number {
    return ((this.next() + this.next() + this.next()) / 3 - 0.5) * 2 * spread;
  }
}

/** A seed for one device, derived from the household seed and the device's index. */
export function deviceSeed(seed: number, index: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (index + 1), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** The generator as a plain function, for callers that only need uniform numbers (benchmarks, tests). */
export function seededRandom(seed: number): () => number {
  const random = new Random(seed);
  return () => random.next();
}
