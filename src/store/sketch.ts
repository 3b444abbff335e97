/**
 * A mergeable quantile sketch (DDSketch-style logarithmic buckets, Masson et al., VLDB 2019).
 * Each value x ≠ 0 falls into bucket i = ceil(log_γ |x|) with γ = (1 + α) / (1 − α); the bucket
 * is represented by 2γ^i / (γ + 1), which is within a relative error α of every value in it.
 * So a quantile read from the sketch is within α of the true value of the same rank, and two
 * sketches merge exactly by adding bucket counts (hours → days → months).
 */

/** Relative accuracy of every quantile read from a sketch: 1 %. */
export const SKETCH_RELATIVE_ERROR = 0.01;

const GAMMA = (1 + SKETCH_RELATIVE_ERROR) / (1 - SKETCH_RELATIVE_ERROR);
const LOG_GAMMA = Math.log(GAMMA);
/** Values closer to zero than this count as zero (well below any sensor's resolution). */
const MIN_INDEXABLE = 1e-9;

export class QuantileSketch {
  readonly positive = new Map<number, number>();
  readonly negative = new Map<number, number>();
  zero = 0;
  count = 0;

  add(x: number, weight = 1): void {
    if (!Number.isFinite(x)) return;
    this.count += weight;
    if (Math.abs(x) < MIN_INDEXABLE) {
      this.zero += weight;
      return;
    }
    const buckets = x > 0 ? this.positive : this.negative;
    const i = Math.ceil(Math.log(Math.abs(x)) / LOG_GAMMA);
    buckets.set(i, (buckets.get(i) ?? 0) + weight);
  }

  merge(other: QuantileSketch): void {
    for (const [i, n] of other.positive) this.positive.set(i, (this.positive.get(i) ?? 0) + n);
    for (const [i, n] of other.negative) this.negative.set(i, (this.negative.get(i) ?? 0) + n);
    this.zero += other.zero;
    this.count += other.count;
  }

  /**
   * The value at rank floor(q·(n−1)) of the sorted values, within SKETCH_RELATIVE_ERROR;
   * null for an empty sketch.
   */
  quantile(q: number): number | null {
    if (this.count === 0 || q < 0 || q > 1) return null;
    return this.atRank(Math.floor(q * (this.count - 1)));
  }

  /** The value of the given 0-based rank of the sorted values, within SKETCH_RELATIVE_ERROR; null outside 0..count−1. */
  atRank(rank: number): number | null {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.count) return null;
    let seen = 0;
    // Ascending order: most negative first (largest index among negatives), then zero, then positives.
    for (const i of [...this.negative.keys()].sort((a, b) => b - a)) {
      seen += this.negative.get(i)!;
      if (seen > rank) return -representative(i);
    }
    seen += this.zero;
    if (seen > rank) return 0;
    for (const i of [...this.positive.keys()].sort((a, b) => a - b)) {
      seen += this.positive.get(i)!;
      if (seen > rank) return representative(i);
    }
    return null;
  }

  /** Compact bytes: varints of (bucket count, zigzag index deltas, counts) for each sign, then zero. */
  encode(): Buffer {
    const out: number[] = [];
    for (const buckets of [this.negative, this.positive]) {
      const keys = [...buckets.keys()].sort((a, b) => a - b);
      writeVarint(out, keys.length);
      let prev = 0;
      for (const k of keys) {
        writeVarint(out, zigzag(k - prev));
        writeVarint(out, buckets.get(k)!);
        prev = k;
      }
    }
    writeVarint(out, this.zero);
    return Buffer.from(out);
  }

  static decode(bytes: Uint8Array): QuantileSketch {
    const s = new QuantileSketch();
    const pos = { at: 0 };
    for (const buckets of [s.negative, s.positive]) {
      const n = readVarint(bytes, pos);
      let prev = 0;
      for (let j = 0; j < n; j++) {
        const k = prev + unzigzag(readVarint(bytes, pos));
        const c = readVarint(bytes, pos);
        buckets.set(k, c);
        s.count += c;
        prev = k;
      }
    }
    s.zero = readVarint(bytes, pos);
    s.count += s.zero;
    return s;
  }
}

function representative(i: number): number {
  return (2 * Math.pow(GAMMA, i)) / (GAMMA + 1);
}

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function unzigzag(n: number): number {
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}

function writeVarint(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

function readVarint(bytes: Uint8Array, pos: { at: number }): number {
  let n = 0;
  let mul = 1;
  for (;;) {
    const b = bytes[pos.at++];
    if (b === undefined) throw new Error('truncated quantile sketch');
    n += (b & 0x7f) * mul;
    if (b < 0x80) return n;
    mul *= 0x80;
  }
}
