import { createHmac } from 'node:crypto';
import type { IntegerSource } from './mechanism.js';

const SPAN = 2 ** 48; // 6 bytes per candidate draw

/**
 * A deterministic random source for one release: HMAC-SHA256 in counter mode under a secret key
 * and a label naming the release (vendor key, policy version, window, item). Uniform integers by
 * rejection sampling, so the discrete Laplace stays exact.
 *
 * Why keyed and not `randomInt`: the noise of a release is a function of (secret, release), so a
 * preview before approval, the bytes sent and any re-run of the window are the same bytes without
 * storing a draw first [PRIV-14]; a vendor without the gateway secret cannot predict or strip it
 * (HMAC is a PRF). Distinct releases get distinct labels, hence independent noise.
 */
export function keyedSource(key: Buffer, label: string): IntegerSource {
  let counter = 0;
  let block = Buffer.alloc(0);
  let offset = 0;
  const next6 = (): number => {
    const out = Buffer.alloc(6);
    for (let i = 0; i < 6; i++) {
      if (offset >= block.length) {
        block = createHmac('sha256', key).update(`sluice-noise/1\n${label}\n${counter++}`).digest();
        offset = 0;
      }
      out[i] = block[offset++]!;
    }
    return out.readUIntBE(0, 6);
  };
  return {
    below(n: number): number {
      if (!Number.isSafeInteger(n) || n < 1 || n > SPAN) throw new RangeError(`integer bound out of range: ${n}`);
      // The largest multiple of n below 2^48: draws at or above it would favour small results.
      const limit = SPAN - (SPAN % n);
      for (;;) {
        const x = next6();
        if (x < limit) return x % n;
      }
    },
  };
}
