import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/index.js';
import type { DeviceProfile } from '../../../src/devices/index.js';
import { policySchema, resolveEffective } from '../../../src/policy/index.js';
import { integerSourceFrom, replayPolicy, type PrivacySpec, type ReplayInput, type ReplaySource } from '../../../src/privacy/index.js';
import { seededRandom } from '../../../src/simulate/index.js';
import { summarise } from '../../../src/summarise/index.js';

const H = 3_600_000;
const DAY = 24 * H;
const T0 = Date.parse('2026-11-01T00:00:00Z');
const plug = { name: 'plug', file: 'x', version: 1, kind: 'smart_plug', metrics: { energy: { type: 'number', unit: 'kWh', resolution: 0.001, counter: true, never_store: false } } } as unknown as DeviceProfile;
const text = `version: 1\nvendor: Acme\nendpoint: https://a.example/x\npurpose: p\nexpires: 2099-01-01\nschedule: "0 3 * * *"\nsecret_env: K\nshare:\n  - devices: { kind: smart_plug }\n    metrics: [energy]\n    window: 1d\n    stats: [increase]\n    min_samples: 2\n`;
const parsed = parseYaml(text, 'p.yaml', policySchema, 'SLUICE_ERR_POLICY_INVALID');
const device = { id: 'p1', role: 'device' as const, profile: 'plug', baseTopic: null, via: null, source: null, simulated: false, createdAt: 0 };
const policy = resolveEffective({ name: 'acme', file: 'p.yaml', text, policy: parsed.value, parsed }, [device], new Map([['plug', plug]])).effective;
const windows = Array.from({ length: 5 }, (_, i) => ({ start: T0 + i * DAY, end: T0 + (i + 1) * DAY }));
// 0.5 kWh an hour, readings on the hour; day 3 has a single reading (under min_samples)
const samples: ReplayInput['samples'] = (_d, _m, w) => {
  const day = Math.round((w.start - T0) / DAY);
  const n = day === 2 ? 1 : 25;
  return { samples: Array.from({ length: n }, (_, i) => ({ ts: w.start + i * H - (i === 24 ? 1 : 0), value: 100 + day * 12 + i * 0.5 })), source: (day < 2 ? 'rollup' : 'raw') as ReplaySource };
};
const spec: PrivacySpec = { epsilon: 0.5, clamp: [0, 2], unitMs: H };
const input = (over: Partial<ReplayInput> = {}): ReplayInput => ({
  policy,
  windows,
  timezone: 'UTC',
  size: '1d',
  gatewaySecret: Buffer.alloc(32, 7),
  samples,
  resolutionOf: () => 0.001,
  noise: integerSourceFrom(seededRandom(11)),
  summarise,
  ...over,
});

describe('replay (pure)', () => {
  it('without privacy: the values the summariser would send, suppressed windows and why, bytes, where readings came from', () => {
    const lines = replayPolicy(input());
    expect(lines.map((l) => [l.sent, l.items[0]?.stats.increase ?? null, l.epsilon, l.sources])).toEqual([
      [true, 12, 0, ['rollup']],
      [true, 12, 0, ['rollup']],
      [false, null, 0, ['raw']],
      [true, 12, 0, ['raw']],
      [true, 12, 0, ['raw']],
    ]);
    // min_samples 2 in the file is raised to the household floor of 3 (policies/defaults.yaml built-ins).
    expect(lines[2]!.suppressed).toEqual([{ rule: 1, metric: 'energy', stat: null, why: '1 readings, fewer than min_samples 3' }]);
    const first = summarise({ policy, window: windows[0]!, size: '1d', timezone: 'UTC', gatewaySecret: Buffer.alloc(32, 7), samples: (d, m) => samples(d, m, windows[0]!).samples });
    expect(first.kind === 'summary' && first.summary.body.length).toBe(lines[0]!.bytes);
  });

  it('with privacy: noised values, ε per window, and windows withheld once the (simulated) budget is spent', () => {
    const releases = [{ vendor: 'acme', policy: 'acme', window: { start: T0 - DAY, end: T0 }, epsilon: 0.25, at: T0 }];
    const lines = replayPolicy(input({ privacy: new Map([[1, spec]]), budget: { vendor: 'acme', releases, limits: { vendor: { epsilon: 1, perMs: 30 * DAY }, household: { epsilon: 2, perMs: 30 * DAY } } } }));
    expect(lines.map((l) => [l.sent, l.epsilon])).toEqual([[true, 0.5], [false, 0.5], [false, 0], [false, 0.5], [false, 0.5]]);
    expect(lines[1]!.suppressed[0]!.why).toMatch(/^withheld: budget \(vendor limit: 0.75 of 1 spent; fits again /);
    const item = lines[0]!.items[0]!;
    expect(item.noise).toEqual({ mechanism: 'discrete-laplace', epsilon: 0.5, accuracy95: { increase: 11.983 } });
    expect(item.stats.increase).not.toBe(12);
    expect(Number.isInteger(Math.round(item.stats.increase! * 1000))).toBe(true);
    // the real budget list was not touched
    expect(releases).toHaveLength(1);
  });

  it('the same seed gives the same replay; refused statistics are suppressed with their reason', () => {
    const a = replayPolicy(input({ privacy: new Map([[1, spec]]) }));
    const b = replayPolicy(input({ privacy: new Map([[1, spec]]) }));
    expect(a).toEqual(b);
    const maxText = text.replace('metrics: [energy]\n    window: 1d\n    stats: [increase]', 'metrics: [energy]\n    window: 1d\n    stats: [increase, max]');
    const p2 = parseYaml(maxText, 'p.yaml', policySchema, 'SLUICE_ERR_POLICY_INVALID');
    const pol2 = resolveEffective({ name: 'acme', file: 'p.yaml', text: maxText, policy: p2.value, parsed: p2 }, [device], new Map([['plug', plug]])).effective;
    const [line] = replayPolicy(input({ policy: pol2, windows: windows.slice(0, 1), privacy: new Map([[1, spec]]) }));
    expect(Object.keys(line!.items[0]!.stats)).toEqual(['increase']);
    expect(line!.suppressed).toEqual([{ rule: 1, metric: 'energy', stat: 'max', why: expect.stringMatching(/not offered with noise/) }]);
  });
});
