import { ownValue } from '../core/index.js';
import { createHmac } from 'node:crypto';
import { canonicalJson, sha256Hex } from '../core/index.js';
import { isoInZone, type EffectivePolicy, type EffectiveRule, type Stat, type TimeWindow } from '../policy/index.js';

export const SUMMARY_FORMAT = 'sluice-summary/1';

/** One reading as the summariser sees it: a number at a time. */
export interface Sample {
  ts: number;
  value: number;
}

/** One summarised metric of one rule; only the statistics the rule asks for. */
export interface SummaryItem {
  rule: number;
  metric: string;
  unit: string | null;
  window: string;
  stats: Partial<Record<Stat, number>>;
}

/** The document a vendor receives (docs/vendor-api.md). */
export interface SummaryDocument {
  format: typeof SUMMARY_FORMAT;
  id: string;
  policy: string;
  version: string;
  vendor: string;
  purpose: string;
  window: { start: string; end: string };
  household: string;
  items: SummaryItem[];
  ledger_head: string;
}

/** An item left out of the summary, said in the preview (never sent). */
export interface OmittedItem {
  rule: number;
  metric: string;
  samples: number;
  minSamples: number;
}

export interface Summary {
  document: SummaryDocument;
  /** The exact bytes that are stored, previewed, hashed in the ledger and sent. */
  body: Buffer;
  bodySha256: string;
  omitted: OmittedItem[];
}

export interface SummariseInput {
  policy: EffectivePolicy;
  window: TimeWindow;
  timezone: string;
  household: string;
  ledgerHead: string;
  /** The stored readings of one device's metric within the window, oldest first. */
  samples: (deviceId: string, metric: string) => readonly Sample[];
}

/** The deterministic id of a policy version's summary of one window (also the idempotency key). */
export function summaryId(version: string, window: TimeWindow): string {
  return sha256Hex(`${SUMMARY_FORMAT}\n${version}\n${window.start}\n${window.end}`).slice(0, 32);
}

/** Vendor names compared as a household would: case, width and spacing do not matter. */
export function normaliseVendor(vendor: string): string {
  return vendor.normalize('NFKC').trim().toLowerCase().replace(/\s+/g, ' ');
}

/**
 * The household's id for one vendor: a keyed hash of the gateway secret and the vendor name,
 * so two vendors cannot join their records on it and no vendor can reverse it.
 */
export function householdPseudonym(secret: Buffer, vendor: string): string {
  return createHmac('sha256', secret).update(`sluice-household/1\n${normaliseVendor(vendor)}`).digest('hex').slice(0, 32);
}

/**
 * Builds one window's summary of an approved policy. Pure: the readings come from the caller.
 * [PRIV-1] only aggregates over all selected devices leave; no device id, reading time or
 * sample count is in the document unless a rule asks for `count`.
 */
export function summarise(input: SummariseInput): Summary {
  const { policy, window } = input;
  const items: SummaryItem[] = [];
  const omitted: OmittedItem[] = [];
  for (const rule of policy.rules) {
    for (const metric of rule.rule.metrics) {
      const perDevice = rule.devices.map((d) => input.samples(d, metric).filter((s) => s.ts >= window.start && s.ts < window.end));
      const count = perDevice.reduce((n, s) => n + s.length, 0);
      if (count === 0 || count < rule.rule.min_samples) {
        omitted.push({ rule: rule.index, metric, samples: count, minSamples: rule.rule.min_samples });
        continue;
      }
      const stats: Partial<Record<Stat, number>> = {};
      const values = perDevice.flat().map((s) => s.value);
      const round = rounder(rule, metric);
      for (const stat of rule.rule.stats) {
        if (stat === 'count') stats.count = count;
        else if (stat === 'mean') stats.mean = round(values.reduce((a, b) => a + b, 0) / count);
        else if (stat === 'min') stats.min = round(Math.min(...values));
        else if (stat === 'max') stats.max = round(Math.max(...values));
        else stats.increase = round(perDevice.reduce((sum, s) => sum + increase(s), 0));
      }
      items.push({ rule: rule.index, metric, unit: unitOf(rule, metric), window: rule.rule.window, stats });
    }
  }
  const version = policy.hash;
  const document: SummaryDocument = {
    format: SUMMARY_FORMAT,
    id: summaryId(version, window),
    policy: policy.name,
    version,
    vendor: policy.policy.vendor,
    purpose: policy.policy.purpose,
    window: { start: isoInZone(window.start, input.timezone), end: isoInZone(window.end, input.timezone) },
    household: input.household,
    items,
    ledger_head: input.ledgerHead,
  };
  const body = Buffer.from(canonicalJson(document), 'utf8');
  return { document, body, bodySha256: sha256Hex(body), omitted };
}

/** Sum of the rises of a cumulative counter; a drop is a reset, after which it counts from zero. */
function increase(samples: readonly Sample[]): number {
  let total = 0;
  for (let i = 1; i < samples.length; i++) {
    const d = samples[i]!.value - samples[i - 1]!.value;
    total += d >= 0 ? d : samples[i]!.value;
  }
  return total;
}

function unitOf(rule: EffectiveRule, metric: string): string | null {
  for (const p of Object.values(rule.profiles)) {
    const spec = ownValue(p, metric);
    if (spec?.type === 'number') return spec.unit;
  }
  return null;
}

/** Rounds to the rule's `round`, else to the coarsest resolution of the metric's profiles, else 0.001. */
function rounder(rule: EffectiveRule, metric: string): (v: number) => number {
  let step = rule.rule.round;
  if (step === undefined) {
    const steps = Object.values(rule.profiles).map((p) => {
        const spec = ownValue(p, metric);
        return spec?.type === 'number' ? spec.resolution : undefined;
      }).filter((s): s is number => s !== undefined);
    step = steps.length > 0 ? Math.max(...steps) : 0.001;
  }
  const decimals = decimalsOf(step);
  const s = step;
  return (v) => {
    const r = Number((Math.round(v / s) * s).toFixed(decimals));
    return Object.is(r, -0) ? 0 : r;
  };
}

function decimalsOf(step: number): number {
  const text = String(step);
  const exp = /e-(\d+)$/.exec(text);
  if (exp) return Number(exp[1]);
  return text.split('.')[1]?.length ?? 0;
}
