import type { MetricSpec } from '../../src/devices/index.js';
import type { Reading } from '../../src/ingest/index.js';
import { seededRandom } from './stats.js';

/** One message of the simulated household: what the device sent and the readings it yields. */
export interface MixMessage {
  deviceId: string;
  ts: number;
  readings: Reading[];
  specs: Readonly<Record<string, MetricSpec>>;
  /** The JSON payload the device would have published. */
  json: string;
}

type Gen = (rnd: () => number, prev: number) => number | boolean | string;

interface KindMetric {
  metric: string;
  component?: string;
  spec: MetricSpec;
  gen: Gen;
}

interface Kind {
  kind: string;
  count: number;
  /** s between messages; a multiple of 10 */
  every: number;
  metrics: KindMetric[];
}

const num = (unit: string, resolution: number, extra: Partial<MetricSpec> = {}): MetricSpec =>
  ({ type: 'number', unit, resolution, counter: false, never_store: false, ...extra }) as MetricSpec;
const bool: MetricSpec = { type: 'boolean', never_store: false } as MetricSpec;
const walk = (mid: number, spread: number, step: number, res: number): Gen => (rnd, prev) => {
  const base = Number.isFinite(prev) && prev !== 0 ? prev : mid;
  const next = Math.min(mid + spread, Math.max(mid - spread, base + (rnd() - 0.5) * 2 * step));
  return Math.round(next / res) * res;
};
const flip = (p: number): Gen => (rnd, prev) => (rnd() < p ? !prev : Boolean(prev));
const counter = (perStep: number, res: number): Gen => (rnd, prev) => Math.round(((prev || 1000) + rnd() * perStep) / res) * res;

/**
 * A household's device mix for the storage figures: thermostats, room sensors, plugs, contact
 * sensors, a fridge with two compartments and an energy meter; about 4.4 readings/s in all.
 * (The simulator issue will bring its own mix; this one is fixed so runs are comparable.)
 */
export const DEVICE_MIX: Kind[] = [
  {
    kind: 'thermostat',
    count: 6,
    every: 60,
    metrics: [
      { metric: 'temperature', spec: num('°C', 0.01), gen: walk(21, 3, 0.05, 0.01) },
      { metric: 'humidity', spec: num('%', 0.1), gen: walk(45, 15, 0.3, 0.1) },
      { metric: 'setpoint_heat', spec: num('°C', 0.5), gen: (rnd, prev) => (rnd() < 0.01 ? (rnd() < 0.5 ? 17 : 21) : prev || 21) },
      { metric: 'heating', spec: bool, gen: flip(0.05) },
      { metric: 'mode', spec: { type: 'enum', values: ['off', 'heat', 'cool', 'auto'], never_store: false } as MetricSpec, gen: () => 'heat' },
    ],
  },
  {
    kind: 'room-sensor',
    count: 10,
    every: 60,
    metrics: [
      { metric: 'temperature', spec: num('°C', 0.01), gen: walk(20, 4, 0.05, 0.01) },
      { metric: 'humidity', spec: num('%', 0.1), gen: walk(50, 20, 0.3, 0.1) },
      { metric: 'battery', spec: num('%', 1), gen: (rnd, prev) => (prev ? (rnd() < 0.001 ? prev - 1 : prev) : 97) },
    ],
  },
  {
    kind: 'plug',
    count: 10,
    every: 10,
    metrics: [
      { metric: 'power', spec: num('W', 0.1), gen: walk(150, 150, 20, 0.1) },
      { metric: 'energy', spec: num('kWh', 0.001, { counter: true } as Partial<MetricSpec>), gen: counter(0.0005, 0.001) },
      { metric: 'on', spec: bool, gen: flip(0.002) },
    ],
  },
  {
    kind: 'contact',
    count: 8,
    every: 300,
    metrics: [
      { metric: 'contact', spec: bool, gen: flip(0.1) },
      { metric: 'battery', spec: num('%', 1), gen: (rnd, prev) => (prev ? (rnd() < 0.001 ? prev - 1 : prev) : 90) },
    ],
  },
  {
    kind: 'fridge',
    count: 1,
    every: 60,
    metrics: [
      { metric: 'temperature', component: 'fridge', spec: num('°C', 0.1), gen: walk(4, 2, 0.2, 0.1) },
      { metric: 'temperature', component: 'freezer', spec: num('°C', 0.1), gen: walk(-18, 3, 0.2, 0.1) },
      { metric: 'door_open', spec: bool, gen: flip(0.02) },
    ],
  },
  {
    kind: 'energy-meter',
    count: 1,
    every: 10,
    metrics: [
      { metric: 'power', spec: num('W', 1), gen: walk(600, 500, 80, 1) },
      { metric: 'energy_import', spec: num('kWh', 0.001, { counter: true } as Partial<MetricSpec>), gen: counter(0.002, 0.001) },
      { metric: 'voltage', spec: num('V', 0.1), gen: walk(230, 6, 0.5, 0.1) },
    ],
  },
];

/** Yields the mix's messages in time order until `readings` readings were produced. */
export function* householdMessages(readings: number, seed: number, startMs = Date.UTC(2026, 0, 1)): Generator<MixMessage> {
  const rnd = seededRandom(seed);
  const devices = DEVICE_MIX.flatMap((k) =>
    Array.from({ length: k.count }, (_, i) => ({
      id: `${k.kind}-${i + 1}`,
      kind: k,
      slot: Math.floor(rnd() * (k.every / 10)),
      offsetMs: Math.floor(rnd() * 9000),
      prev: new Map<string, number | boolean | string>(),
      specs: Object.fromEntries(k.metrics.map((m) => [m.metric, m.spec])) as Record<string, MetricSpec>,
    })),
  );
  let produced = 0;
  for (let step = 0; produced < readings; step++) {
    const t = startMs + step * 10_000;
    for (const d of devices) {
      if (step % (d.kind.every / 10) !== d.slot) continue;
      const ts = t + d.offsetMs + Math.floor(rnd() * 1000);
      const out: Reading[] = [];
      const json: Record<string, unknown> = {};
      for (const m of d.kind.metrics) {
        const key = `${m.component ?? ''}/${m.metric}`;
        const value = m.gen(rnd, (d.prev.get(key) as number) ?? 0);
        d.prev.set(key, value);
        out.push({ metric: m.metric, component: m.component ?? '', value, ts, timeSource: 'device' });
        if (m.component) ((json[m.component] ??= {}) as Record<string, unknown>)[m.metric] = value;
        else json[m.metric] = value;
      }
      json.ts = ts;
      produced += out.length;
      yield { deviceId: d.id, ts, readings: out, specs: d.specs, json: JSON.stringify(json) };
      if (produced >= readings) return;
    }
  }
}
