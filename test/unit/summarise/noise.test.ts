import { describe, expect, it } from 'vitest';
import { discreteLaplacePmf, keyedSource, laplaceScale, noiseItemKey, sampleDiscreteLaplace } from '../../../src/privacy/index.js';
import { summarise, summaryJsonSchema, type Sample, type SummariseInput } from '../../../src/summarise/index.js';
import { summaryDocumentSchema } from '../../../src/summarise/document-schema.js';
import { policy } from './helpers.js';

const TZ = 'Europe/Berlin';
const WINDOW = { start: Date.parse('2026-11-21T23:00:00Z'), end: Date.parse('2026-11-22T23:00:00Z') };
const NEXT = { start: WINDOW.end, end: WINDOW.end + 86_400_000 };
const H = 3_600_000;
const SECRET = Buffer.alloc(32, 7);

// A counter rising 1.5 kWh per hour for 6 hours: clamped at 2 per hour, so the exact increase is 9 kWh.
const rising = (from = WINDOW.start): Sample[] => Array.from({ length: 7 }, (_, i) => ({ ts: from + i * H, value: 100 + 1.5 * i }));
const RULE = '  - devices: { kind: smart_plug }\n    metrics: [energy]\n    window: 1d\n    stats: [increase]\n    round: 0.001\n    privacy: { epsilon: 0.5, clamp: [0, 2] }\n';

function run(extra: Partial<SummariseInput> = {}, rule = RULE) {
  const out = summarise({ policy: policy(rule), window: WINDOW, size: '1d', timezone: TZ, gatewaySecret: SECRET, samples: () => rising(extra.window?.start), ...extra });
  if (out.kind !== 'summary') throw new Error(out.message);
  return out.summary;
}

describe('noise in the summary builder', () => {
  it('a rule with privacy: is noised in the body, says so per item, and lists each noisy query for the ledger', () => {
    const s = run();
    const [item] = s.document.items;
    expect(item!.noise).toEqual({ mechanism: 'discrete-laplace', epsilon: 0.5, clamp: [0, 2], unit: '1h', sensitivity: { increase: 2 } });
    expect(s.releases).toEqual([
      expect.objectContaining({ item: noiseItemKey(s.policyVersion, 1, 'energy', 'increase'), rule: 1, metric: 'energy', stat: 'increase', epsilon: 0.5, mechanism: 'discrete-laplace', clamp: [0, 2], unit: '1h', sensitivity: { sum: 2 } }),
    ]);
    const noise = s.releases[0]!.noise.sum!;
    // The released value is the clamped sum plus the integer noise in steps of the resolution (0.001 kWh),
    // then rounded to the household floor for kWh (0.1; the rule's 0.001 is raised to it).
    expect(item!.stats.increase).toBe(Number((Math.round((9000 + noise) / 100) / 10).toFixed(1)));
    expect(summaryDocumentSchema.safeParse(s.document).success).toBe(true);
    expect(JSON.stringify(summaryJsonSchema())).toContain('discrete-laplace');
  });

  it('the draw is a function of (gateway secret, vendor, version, window, item): preview = sent; other windows and vendors draw afresh', () => {
    const a = run();
    expect(run().body.equals(a.body)).toBe(true);
    const draws = (s: ReturnType<typeof run>) => s.releases.map((r) => r.noise.sum);
    const other = [
      run({ window: NEXT }),
      run({ gatewaySecret: Buffer.alloc(32, 8) }),
      run({ policy: policy(RULE, { vendor: 'Bolt' }) }),
      run({ policy: policy(RULE.replace('round: 0.001', 'round: 0.002')) }),
    ].map(draws);
    // Four more draws of a scale-4000 discrete Laplace: all equal to the first only by a 1-in-10^14 chance.
    expect(other.every((d) => d[0] === draws(a)[0])).toBe(false);
  });

  it('a stored draw wins over the keyed one: a window released before never draws again', () => {
    const s = run({ storedNoise: (item) => (item.endsWith('/energy/increase') ? { sum: -300 } : null) });
    expect(s.document.items[0]!.stats.increase).toBe(8.7);
    expect(s.releases[0]!.noise).toEqual({ sum: -300 });
  });

  it('values are rounded to the rule step after the noise (post-processing); count stays a whole number', () => {
    const s = run({}, RULE.replace('stats: [increase]', 'stats: [increase, count]'));
    const { increase, count } = s.document.items[0]!.stats;
    expect(Number((Math.round(increase! * 10) / 10).toFixed(1))).toBe(increase);
    expect(Number.isInteger(count)).toBe(true);
    expect(count).toBeGreaterThanOrEqual(0);
    // ε 0.5 of the rule is split over its two noisy statistics.
    expect(s.document.items[0]!.noise).toMatchObject({ epsilon: 0.25, sensitivity: { increase: 2, count: 1 } });
    expect(s.releases.map((r) => r.epsilon)).toEqual([0.25, 0.25]);
  });

  it('a rule without privacy: is exact and carries no noise field', () => {
    const s = run({}, RULE.replace('    privacy: { epsilon: 0.5, clamp: [0, 2] }\n', ''));
    expect(s.document.items[0]).toEqual({ rule: 1, metric: 'energy', unit: 'kWh', window: '1d', stats: { increase: 9 } });
    expect(s.releases).toEqual([]);
  });
});

describe('the keyed noise source', () => {
  it('is deterministic per key and label, and differs across labels', () => {
    const take = (key: Buffer, label: string) => {
      const src = keyedSource(key, label);
      return Array.from({ length: 8 }, () => src.below(1_000_000));
    };
    expect(take(SECRET, 'x')).toEqual(take(SECRET, 'x'));
    expect(take(SECRET, 'x')).not.toEqual(take(SECRET, 'y'));
    expect(take(SECRET, 'x')).not.toEqual(take(Buffer.alloc(32, 1), 'x'));
    expect(() => keyedSource(SECRET, 'x').below(0)).toThrow(RangeError);
  });

  it('gives uniform integers below n (chi-square over 10 cells) and an exact discrete Laplace', () => {
    const src = keyedSource(SECRET, 'uniform');
    const cells = new Array<number>(10).fill(0);
    const N = 20_000;
    for (let i = 0; i < N; i++) cells[src.below(10)]!++;
    const chi = cells.reduce((a, c) => a + (c - N / 10) ** 2 / (N / 10), 0);
    expect(chi).toBeLessThan(27.9); // p = 0.001 at 9 degrees of freedom
    // Discrete Laplace of scale 2 through the keyed source: frequencies of -2..2 against the pmf.
    const { t, s } = laplaceScale(1, 0.5);
    const lap = keyedSource(SECRET, 'laplace');
    const counts = new Map<number, number>();
    const M = 20_000;
    for (let i = 0; i < M; i++) {
      const z = sampleDiscreteLaplace(lap, t, s);
      counts.set(z, (counts.get(z) ?? 0) + 1);
    }
    for (const k of [-2, -1, 0, 1, 2]) {
      const p = discreteLaplacePmf(k, t, s);
      // Within 4 standard deviations of a binomial count.
      expect(Math.abs((counts.get(k) ?? 0) - M * p)).toBeLessThan(4 * Math.sqrt(M * p * (1 - p)));
    }
  });
});
