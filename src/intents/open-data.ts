import { randomUUID } from 'node:crypto';
import type { TimeWindow } from '../core/index.js';
import type { NoisyRelease } from '../privacy/index.js';

export const OPEN_DATA_FORMAT = 'sluice.open-data/v1';
/** Open data is about homes over seasons, not about days: shorter windows are refused. */
export const MIN_OPEN_DATA_WINDOW_MS = 7 * 86_400_000;

export interface OpenDataInput {
  /** A whole-home aggregate, e.g. `energy_kwh`; never a device or a room. */
  aggregate: string;
  window: TimeWindow;
  /** Already noised under the household cap (src/privacy noisyStatistic). */
  releases: readonly NoisyRelease[];
  /** Fresh per release; injected in tests. */
  newId?: () => string;
}

export interface OpenDataDocument {
  format: typeof OPEN_DATA_FORMAT;
  release_id: string;
  aggregate: string;
  window: { start: string; end: string };
  items: Array<{ stat: string; value: number; epsilon: number; mechanism: string; accuracy95: number }>;
}

export type OpenDataOutcome = { ok: true; document: OpenDataDocument } | { ok: false; reason: string };

/**
 * The document one home contributes to an open-data collector. [PRIV-OPEN-1] it carries no
 * stable household id, no policy version and no ledger head: a fresh random id per release, so
 * two releases of one home cannot be joined by anything in them.
 */
export function openDataRelease(input: OpenDataInput): OpenDataOutcome {
  const length = input.window.end - input.window.start;
  if (length < MIN_OPEN_DATA_WINDOW_MS) return { ok: false, reason: `open data needs windows of at least 7 days; this one is ${Math.round(length / 3_600_000)} h` };
  if (!/^[a-z][a-z0-9_]*$/.test(input.aggregate)) return { ok: false, reason: `"${input.aggregate}" is not an aggregate name` };
  if (input.releases.length === 0) return { ok: false, reason: 'nothing to release' };
  for (const r of input.releases) {
    if (!(r.epsilon > 0) || !Number.isFinite(r.value)) return { ok: false, reason: `the ${r.stat} release is not a differentially private value` };
  }
  return {
    ok: true,
    document: {
      format: OPEN_DATA_FORMAT,
      release_id: (input.newId ?? randomUUID)(),
      aggregate: input.aggregate,
      window: { start: new Date(input.window.start).toISOString(), end: new Date(input.window.end).toISOString() },
      items: input.releases.map((r) => ({ stat: r.stat, value: r.value, epsilon: r.epsilon, mechanism: r.mechanism, accuracy95: r.accuracy95 })),
    },
  };
}
