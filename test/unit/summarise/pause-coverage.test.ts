import { describe, expect, it } from 'vitest';
import { BUILTIN_DEFAULTS } from '../../../src/policy/index.js';
import { summarise, type PausedInterval, type Sample, type SummariseInput } from '../../../src/summarise/index.js';
import { policy } from './helpers.js';

const TZ = 'Europe/Berlin';
const WINDOW = { start: Date.parse('2026-11-21T23:00:00Z'), end: Date.parse('2026-11-22T23:00:00Z') };
const H = 3_600_000;
const SECRET = Buffer.alloc(32, 7);
/** One reading an hour over the whole day: 24 readings, value = hour of the day. */
const hourly = (): Sample[] => Array.from({ length: 24 }, (_, i) => ({ ts: WINDOW.start + i * H, value: i }));
const at = (fromHour: number, toHour: number): PausedInterval => ({ from: WINDOW.start + fromHour * H, to: WINDOW.start + toHour * H });

function run(p: SummariseInput['policy'], paused?: SummariseInput['paused']) {
  return summarise({ policy: p, window: WINDOW, size: '1d', timezone: TZ, gatewaySecret: SECRET, samples: () => hourly(), ...(paused ? { paused } : {}) });
}

describe('no-share pause coverage in summaries', () => {
  const p = policy('  - devices: { id: a }\n    metrics: [temperature]\n    window: 1d\n    stats: [count, max, mean]\n    round: 0.01\n');

  it('without a pause the document is unchanged: no coverage field', () => {
    const out = run(p);
    expect(out.kind).toBe('summary');
    if (out.kind !== 'summary') return;
    expect(out.summary.document.items[0]).not.toHaveProperty('coverage');
    expect(out.summary.body.toString()).not.toContain('coverage');
  });

  it('leaves the paused part out and states the coverage fraction in the body', () => {
    // Paused 18:00–24:00: the evening (values 18..23) never leaves; the 17:00 reading is not stretched into the pause.
    const out = run(p, (d) => (d === 'a' ? [at(18, 24)] : []));
    expect(out.kind).toBe('summary');
    if (out.kind !== 'summary') return;
    const item = out.summary.document.items[0]!;
    expect(item.coverage).toBe(0.75);
    expect(item.stats.count).toBe(18);
    expect(item.stats.max).toBe(17);
    // Time-weighted over 00:00–18:00 only: mean of 0..17, each held one hour.
    expect(item.stats.mean).toBe(8.5);
    expect(JSON.parse(out.summary.body.toString()).items[0].coverage).toBe(0.75);
  });

  it('withholds the window below the default threshold (0.5) and says why', () => {
    const out = run(p, () => [at(0, 13)]);
    expect(out).toMatchObject({ kind: 'nothing', reason: 'paused', omitted: [{ rule: 1, metric: 'temperature', coverage: 0.45 }] });
    if (out.kind === 'nothing') expect(out.message).toContain('45% of the window, below 50%');
  });

  it('overlapping pauses count each paused instant once; coverage rounds down', () => {
    const out = run(p, () => [at(0, 6), at(3, 9), { from: WINDOW.start + 9 * H, to: WINDOW.start + 9 * H + 60_000 }]);
    expect(out.kind).toBe('summary');
    if (out.kind === 'summary') expect(out.summary.document.items[0]!.coverage).toBe(0.62); // 1 − (9 h + 1 min) / 24 h = 0.6243
  });

  it('the threshold is the household default min_coverage of the approved version', () => {
    const strict = policy('  - devices: { id: a }\n    metrics: [temperature]\n    window: 1d\n    stats: [count]\n', { defaults: { ...BUILTIN_DEFAULTS, min_coverage: 0.8 } });
    expect(run(strict, () => [at(18, 24)])).toMatchObject({ kind: 'nothing', reason: 'paused' });
    const lax = policy('  - devices: { id: a }\n    metrics: [temperature]\n    window: 1d\n    stats: [count]\n', { defaults: { ...BUILTIN_DEFAULTS, min_coverage: 0 } });
    const out = run(lax, () => [at(0, 21)]); // 3 readings left, the household floor
    expect(out.kind).toBe('summary');
    if (out.kind === 'summary') expect(out.summary.document.items[0]).toMatchObject({ coverage: 0.12, stats: { count: 3 } });
  });

  it('coverage is over the rule\'s devices: one of two paused for half the day covers 75%', () => {
    const two = policy('  - devices: { kind: thermostat }\n    metrics: [temperature]\n    window: 1d\n    stats: [count]\n');
    const out = run(two, (d) => (d === 'b' ? [at(12, 24)] : []));
    expect(out.kind).toBe('summary');
    if (out.kind === 'summary') expect(out.summary.document.items[0]).toMatchObject({ coverage: 0.75, stats: { count: 36 } });
  });

  it('a counter does not count what was used across a pause', () => {
    const plug = policy('  - devices: { id: m }\n    metrics: [energy]\n    window: 1d\n    stats: [increase]\n    round: 0.001\n');
    // Cumulative kWh: +1 an hour. Paused 06:00–12:00: the rise from 05:00 to 12:00 is left out.
    const out = run(plug, () => [at(6, 12)]);
    expect(out.kind).toBe('summary');
    if (out.kind === 'summary') expect(out.summary.document.items[0]).toMatchObject({ coverage: 0.75, stats: { increase: 5 + 11 } });
  });
});
