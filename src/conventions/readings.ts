import type { ConventionReading, DiscoveredMetric } from './types.js';
import { normaliseUnit, tidy } from './units.js';

/** How one raw value becomes a neutral reading; plain data so the caller can keep it as state. */
export interface ValueRule {
  metric: string;
  component: string;
  type: 'number' | 'boolean' | 'enum';
  /** The unit the device declares; converted to the neutral unit when read. */
  declaredUnit?: string;
  /** For booleans: the raw values meaning true and false. */
  on?: unknown;
  off?: unknown;
  invert?: boolean;
  /** Raw value → enum value or boolean, e.g. Zigbee2MQTT smoke true → 'critical'. */
  map?: [unknown, string | boolean][];
  /** Linear rescale of raw [min,max] to [0,100] (Zigbee level 0–254 → %). */
  percentOf?: [number, number];
  /** value → 1e6 / value (mired → kelvin). */
  reciprocal?: boolean;
}

export type RuleResult = { ok: true; reading: ConventionReading } | { ok: false; note: string };

/** Applies a rule to a raw value; a value of the wrong shape is a note for the maker, not a guess. */
export function applyRule(rule: ValueRule, raw: unknown): RuleResult {
  const fail = (why: string): RuleResult => ({ ok: false, note: `${rule.metric}: ${why}` });
  if (rule.map) {
    const hit = rule.map.find(([from]) => from === raw || (typeof raw === 'string' && typeof from === 'string' && from.toLowerCase() === raw.toLowerCase()));
    if (!hit) return fail(`unexpected value ${JSON.stringify(raw)}`);
    return { ok: true, reading: { metric: rule.metric, component: rule.component, value: hit[1] } };
  }
  if (rule.type === 'boolean') {
    let v: boolean;
    if (rule.on !== undefined && raw === rule.on) v = true;
    else if (rule.off !== undefined && raw === rule.off) v = false;
    else if (rule.on === undefined && typeof raw === 'boolean') v = raw;
    else return fail(`unexpected value ${JSON.stringify(raw)}`);
    return { ok: true, reading: { metric: rule.metric, component: rule.component, value: rule.invert ? !v : v } };
  }
  if (rule.type === 'enum') {
    if (typeof raw !== 'string') return fail('expected a string');
    return { ok: true, reading: { metric: rule.metric, component: rule.component, value: raw } };
  }
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw))) n = Number(raw);
  else return fail('expected a number');
  if (!Number.isFinite(n)) return fail('not finite');
  if (rule.percentOf) {
    const [lo, hi] = rule.percentOf;
    n = ((n - lo) / (hi - lo)) * 100;
    return { ok: true, reading: { metric: rule.metric, component: rule.component, value: tidy(n), unit: '%' } };
  }
  if (rule.reciprocal) {
    if (n === 0) return fail('zero cannot be inverted');
    return { ok: true, reading: { metric: rule.metric, component: rule.component, value: Math.round(1_000_000 / n), unit: 'K' } };
  }
  if (rule.declaredUnit === undefined) return { ok: true, reading: { metric: rule.metric, component: rule.component, value: n } };
  const u = normaliseUnit(rule.declaredUnit);
  if (!u.ok) return { ok: true, reading: { metric: rule.metric, component: rule.component, value: n, unit: rule.declaredUnit } };
  return { ok: true, reading: { metric: rule.metric, component: rule.component, value: tidy(u.convert(n)), unit: u.unit } };
}

/** The metric a rule produces, in neutral units, with the declared range converted. */
export function metricOf(rule: ValueRule, range?: { min?: number; max?: number; resolution?: number }, extra?: Partial<DiscoveredMetric>): DiscoveredMetric {
  const m: DiscoveredMetric = { metric: rule.metric, component: rule.component, type: rule.type };
  if (rule.map) {
    const outs = rule.map.map(([, to]) => to);
    if (outs.every((o) => typeof o === 'boolean')) m.type = 'boolean';
    else {
      m.type = 'enum';
      m.values = [...new Set(outs.map(String))];
    }
  } else if (rule.type === 'number') {
    if (rule.percentOf) Object.assign(m, { unit: '%', min: 0, max: 100 });
    else if (rule.reciprocal) {
      m.unit = 'K';
      if (range?.max) m.min = Math.round(1_000_000 / range.max);
      if (range?.min) m.max = Math.round(1_000_000 / range.min);
    } else if (rule.declaredUnit !== undefined) {
      const u = normaliseUnit(rule.declaredUnit);
      m.unit = u.ok ? u.unit : rule.declaredUnit;
      if (u.ok && range) {
        if (range.min !== undefined) m.min = tidy(u.convert(range.min));
        if (range.max !== undefined) m.max = tidy(u.convert(range.max));
        if (range.resolution !== undefined) m.resolution = tidy(Math.abs(u.convert(range.resolution) - u.convert(0)));
      }
    } else if (range) {
      if (range.min !== undefined) m.min = range.min;
      if (range.max !== undefined) m.max = range.max;
    }
  }
  return { ...m, ...extra };
}
