import type { IntentRule } from './rules.js';

/** The latest value of each metric of one device, as the store has it. */
export interface DeviceLatest {
  deviceId: string;
  /** The profile's `kind` (fridge, coffee_machine…); devices without a profile have none. */
  kind: string | null;
  latest: ReadonlyArray<{ metric: string; component: string; value: number | boolean | string; ts: number }>;
}

/** What the rules remember between evaluations: the last intent per rule, a counter's baseline per rule and device. */
export interface RuleMemory {
  /** ms of the last draft per rule. */
  lastFired: ReadonlyMap<string, number>;
  /** `rule\u0000device` → the counter value at the last draft (or when first seen). */
  baselines: ReadonlyMap<string, number>;
}

/** A rule that fired for a device: the service turns it into a draft intent. */
export interface Firing {
  rule: IntentRule;
  deviceId: string;
  /** The reading that fired it, kept locally to explain the draft; never sent. */
  reading: { metric: string; component: string; value: number | boolean | string; ts: number };
  at: number;
}

export interface Evaluation {
  firings: Firing[];
  /** Baselines to remember (a counter first seen, or the value at a firing). */
  baselines: Array<{ key: string; value: number }>;
  /** Rules held back by their rate limit, for the log. */
  limited: string[];
}

export const baselineKey = (rule: string, deviceId: string): string => `${rule}\u0000${deviceId}`;

/**
 * Which rules fire on these devices' latest readings now. Pure: the caller supplies the time
 * and what it remembers; at most one firing per rule per call, and none inside its rate limit.
 */
export function evaluateRules(rules: readonly IntentRule[], devices: readonly DeviceLatest[], memory: RuleMemory, now: number): Evaluation {
  const out: Evaluation = { firings: [], baselines: [], limited: [] };
  for (const rule of rules) {
    const t = rule.trigger;
    const last = memory.lastFired.get(rule.name);
    const limited = last !== undefined && now - last < rule.rate_limit;
    for (const d of devices) {
      if (d.kind !== t.device.kind) continue;
      const reading = d.latest.find((r) => r.metric === t.metric && (t.component === undefined || r.component === t.component));
      if (!reading) continue;
      const key = baselineKey(rule.name, d.deviceId);
      let fires = false;
      if (t.every !== undefined) {
        if (typeof reading.value !== 'number') continue;
        const base = memory.baselines.get(key);
        // A counter first seen sets the baseline: brews made before Sluice knew the machine are not this rule's business.
        if (base === undefined) {
          out.baselines.push({ key, value: reading.value });
          continue;
        }
        fires = reading.value - base >= t.every;
      } else if (t.below !== undefined) fires = typeof reading.value === 'number' && reading.value < t.below;
      else if (t.above !== undefined) fires = typeof reading.value === 'number' && reading.value > t.above;
      else if (t.equals !== undefined) fires = reading.value === t.equals;
      if (!fires) continue;
      if (limited) {
        if (!out.limited.includes(rule.name)) out.limited.push(rule.name);
        break;
      }
      out.firings.push({ rule, deviceId: d.deviceId, reading: { ...reading }, at: now });
      if (t.every !== undefined && typeof reading.value === 'number') out.baselines.push({ key, value: reading.value });
      break; // one intent per rule per evaluation: two fridges low at once are one request for two filters at most
    }
  }
  return out;
}
