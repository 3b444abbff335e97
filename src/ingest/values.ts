import type { MetricSpec, ReadingRule } from '../devices/index.js';
import type { ReadingValue, RefusedMetric } from './types.js';

const NON_FINITE_TEXT = new Set(['nan', 'infinity', '+infinity', '-infinity', 'inf', '-inf']);

/** Checks one metric's value against its spec: type, finiteness, range, enum membership. */
export function checkValue(metric: string, spec: MetricSpec, raw: unknown): { value: ReadingValue } | RefusedMetric {
  return valueRefusal(metric, spec, raw) ?? { value: raw as ReadingValue };
}

/** Why a metric's value does not fit its spec, or undefined when it does (the value is then kept as it is). */
export function valueRefusal(metric: string, spec: MetricSpec, raw: unknown): RefusedMetric | undefined {
  switch (spec.type) {
    case 'number': {
      // JSON has no NaN; devices that print one send the text "NaN" (or Infinity) instead.
      if (typeof raw === 'string' && NON_FINITE_TEXT.has(raw.trim().toLowerCase())) return { metric, reason: 'not_finite', message: `expected a finite number, got ${describe(raw)}` };
      if (typeof raw !== 'number') return { metric, reason: 'wrong_type', message: `expected a number, got ${describe(raw)}` };
      if (!Number.isFinite(raw)) return { metric, reason: 'not_finite', message: `expected a finite number` };
      if ((spec.min !== undefined && raw < spec.min) || (spec.max !== undefined && raw > spec.max)) {
        return { metric, reason: 'out_of_range', message: `${round(raw)} ${spec.unit} is outside ${spec.min ?? '-∞'}…${spec.max ?? '∞'}` };
      }
      return undefined;
    }
    case 'boolean':
      if (typeof raw !== 'boolean') return { metric, reason: 'wrong_type', message: `expected true or false, got ${describe(raw)}` };
      return undefined;
    case 'enum':
      if (typeof raw !== 'string' || !spec.values.includes(raw)) {
        return { metric, reason: 'wrong_type', message: `expected one of ${spec.values.join(', ')}, got ${describe(raw)}` };
      }
      return undefined;
  }
}

/**
 * Turns a raw value into the metric's value with a reading rule's steps, in the documented
 * order: map → invert → reciprocal → range → scale → offset. A value the steps cannot take
 * (a number step on text, a key missing from the map) is refused as wrong_type.
 */
export function applyRule(rule: ReadingRule, spec: MetricSpec, raw: unknown, fromText: boolean): { value: unknown } | RefusedMetric {
  let v = raw;
  if (fromText && typeof v === 'string') v = parseText(v, spec);
  if (rule.map) {
    const key = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
    if (key === undefined || !Object.hasOwn(rule.map, key)) {
      return { metric: rule.metric, reason: 'wrong_type', message: `expected one of ${Object.keys(rule.map).join(', ')}, got ${describe(v)}` };
    }
    v = rule.map[key];
  }
  if (rule.invert) {
    if (typeof v !== 'boolean') return { metric: rule.metric, reason: 'wrong_type', message: `expected true or false, got ${describe(v)}` };
    v = !v;
  }
  const numeric = rule.reciprocal !== undefined || rule.range !== undefined || rule.scale !== undefined || rule.offset !== undefined;
  if (!numeric || typeof v !== 'number' || !Number.isFinite(v)) return { value: v };
  if (rule.reciprocal !== undefined) {
    if (v === 0) return { metric: rule.metric, reason: 'out_of_range', message: `0 has no reciprocal` };
    v = rule.reciprocal / v;
  }
  let n = v as number;
  if (rule.range) {
    const [a, b] = rule.range.from;
    const [c, d] = rule.range.to;
    n = ((n - a) * (d - c)) / (b - a) + c;
  }
  if (rule.scale !== undefined) n *= rule.scale;
  if (rule.offset !== undefined) n += rule.offset;
  return { value: round(n) };
}

/** A text payload ("21.5", "true", "ON") read as the value the metric expects. */
function parseText(text: string, spec: MetricSpec): unknown {
  const t = text.trim();
  if (spec.type === 'number' && t !== '' && !NON_FINITE_TEXT.has(t.toLowerCase())) {
    const n = Number(t);
    return Number.isNaN(n) ? t : n;
  }
  if (spec.type === 'boolean' && (t === 'true' || t === 'false')) return t === 'true';
  return t;
}

// Twelve significant digits drop binary noise such as 3045 × 0.001 = 3.0450000000000004.
function round(n: number): number {
  return Number.isFinite(n) ? Number(n.toPrecision(12)) : n;
}

export function describe(raw: unknown): string {
  if (raw === null) return 'null';
  if (raw === undefined) return 'nothing';
  if (typeof raw === 'string') return `"${raw.length > 40 ? `${raw.slice(0, 40)}…` : raw}"`;
  if (typeof raw === 'object') return Array.isArray(raw) ? 'an array' : 'an object';
  return String(raw);
}
