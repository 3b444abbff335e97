import { describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex } from '../../../src/core/index.js';
import { summarise, summaryId, vendorKey, householdPseudonym, type Sample, type SummariseInput } from '../../../src/summarise/index.js';
import { policy } from './helpers.js';

const TZ = 'Europe/Berlin';
const WINDOW = { start: Date.parse('2026-11-21T23:00:00Z'), end: Date.parse('2026-11-22T23:00:00Z') };
const H = 3_600_000;
const SECRET = Buffer.alloc(32, 7);

const series = (values: number[], from = WINDOW.start): Sample[] => values.map((value, i) => ({ ts: from + i * H, value }));

function run(p: SummariseInput['policy'], samples: SummariseInput['samples'], extra: Partial<SummariseInput> = {}) {
  return summarise({ policy: p, window: WINDOW, size: '1d', timezone: TZ, gatewaySecret: SECRET, samples, ...extra });
}
function sent(outcome: ReturnType<typeof summarise>) {
  if (outcome.kind !== 'summary') throw new Error(`expected a summary, got nothing: ${outcome.message}`);
  return outcome.summary;
}

describe('summarise (pure)', () => {
  it('pools the selected devices, rounds, and carries only the listed statistics', () => {
    const p = policy('  - devices: { kind: thermostat }\n    metrics: [temperature]\n    window: 1d\n    stats: [mean, max]\n    round: 0.5\n');
    const data: Record<string, Sample[]> = { a: series([20, 21]), b: series([22.2, 23.4]) };
    const s = sent(run(p, (d) => data[d] ?? []));
    // time-weighted, each reading holds 1 h (until the next) or 2 h (the last): (20·1 + 21·2 + 22.2·1 + 23.4·2) / 6 = 21.83
    expect(s.document.items).toEqual([{ rule: 1, metric: 'temperature', unit: '°C', window: '1d', stats: { mean: 22, max: 23.5 } }]);
    expect(s.document.window).toEqual({ start: '2026-11-22T00:00:00+01:00', end: '2026-11-23T00:00:00+01:00' });
    expect(s.body.toString()).toBe(canonicalJson(JSON.parse(s.body.toString())));
    expect(s.bodySha256).toBe(sha256Hex(s.body));
    expect(s.body.toString()).not.toMatch(/"a"|"b"|count|ledger/);
  });

  it('leaves out items under min_samples; a window with nothing left sends nothing and says why', () => {
    const p = policy('  - devices: { kind: thermostat }\n    metrics: [temperature]\n    window: 1d\n    stats: [mean, count]\n    min_samples: 3\n');
    const out = run(p, (d) => (d === 'a' ? series([20, 21]) : []));
    expect(out).toMatchObject({ kind: 'nothing', reason: 'too-few-readings', omitted: [{ rule: 1, metric: 'temperature', samples: 2, minSamples: 3 }] });
  });

  it('a window of a size no rule uses sends nothing', () => {
    const p = policy('  - devices: { kind: thermostat }\n    metrics: [temperature]\n    window: 1d\n    stats: [mean]\n');
    expect(run(p, () => series([1, 2, 3]), { size: '1h' })).toMatchObject({ kind: 'nothing', reason: 'no-rule-for-window' });
  });

  it('each rule has its own window: a 1h window carries only the hourly rule', () => {
    const p = policy(
      '  - devices: { kind: thermostat }\n    metrics: [temperature]\n    window: 1d\n    stats: [max]\n  - devices: { kind: smart_plug }\n    metrics: [power]\n    window: 1h\n    stats: [max]\n',
    );
    const hour = { start: WINDOW.start, end: WINDOW.start + H };
    const minute = (values: number[]): Sample[] => values.map((value, i) => ({ ts: WINDOW.start + i * 60_000, value }));
    const s = sent(run(p, (d, m) => (m === 'power' ? minute([100, 120, 134]) : minute([20, 21, 22])), { window: hour, size: '1h' }));
    expect(s.document.items).toEqual([{ rule: 2, metric: 'power', unit: 'W', window: '1h', stats: { max: 130 } }]);
  });

  it('ignores readings outside the window', () => {
    const p = policy('  - devices: { id: a }\n    metrics: [temperature]\n    window: 1d\n    stats: [count]\n');
    const s = sent(run(p, () => [...series([1], WINDOW.start - 1), ...series([2, 3, 4]), ...series([5], WINDOW.end)]));
    expect(s.document.items[0]!.stats).toEqual({ count: 3 });
  });

  it('increase of an energy counter sums the rises and survives a reset', () => {
    const p = policy('  - devices: { kind: smart_plug }\n    metrics: [energy]\n    window: 1d\n    stats: [increase]\n    round: 0.1\n');
    const s = sent(run(p, () => series([100.0, 101.25, 103.0, 0.5, 1.0])));
    expect(s.document.items[0]!.stats).toEqual({ increase: 4.0 });
  });

  it('the id is deterministic per (version, window) and keyed per vendor; the household id differs per vendor and not by spelling', () => {
    const k = vendorKey(SECRET, 'acme heating');
    expect(summaryId(k, 'v1', WINDOW)).toBe(summaryId(k, 'v1', WINDOW));
    expect(summaryId(k, 'v1', WINDOW)).not.toBe(summaryId(k, 'v2', WINDOW));
    expect(summaryId(k, 'v1', WINDOW)).not.toBe(summaryId(vendorKey(SECRET, 'volt energy'), 'v1', WINDOW));
    expect(householdPseudonym(vendorKey(SECRET, 'Acme  Heating'))).toBe(householdPseudonym(vendorKey(SECRET, ' acme heating')));
    expect(householdPseudonym(vendorKey(SECRET, 'acme heating'))).not.toBe(householdPseudonym(vendorKey(SECRET, 'volt energy')));
    expect(householdPseudonym(vendorKey(Buffer.alloc(32, 8), 'acme heating'))).not.toBe(householdPseudonym(k));
  });

  it('the body is a pure function of its inputs: the same inputs give the same bytes', () => {
    const p = policy('  - devices: { kind: thermostat }\n    metrics: [temperature]\n    window: 1d\n    stats: [mean, p50]\n');
    const samples = () => series([20, 21, 22, 23]);
    expect(sent(run(p, samples)).body.equals(sent(run(p, samples)).body)).toBe(true);
  });
});
