import { DateTime } from 'luxon';
import type { SluiceDatabase } from '../core/index.js';
import type { MetricSpec } from '../devices/index.js';
import { hourStart } from './rollup-stats.js';
import type { Rollups, SeriesRow, SpecOf } from './rollups.js';

export interface RetentionSettings {
  rawDays: number;
  rollupDays: number;
  overrides: ReadonlyArray<{ device?: string | undefined; metric?: string | undefined; raw_days: number }>;
  /** most rows deleted per transaction */
  batchSize: number;
  /** ms each rollup run looks back for late readings */
  recheck: number;
}

/**
 * Days a series' raw readings are kept: a sluice.yaml override naming device and metric, then
 * one naming the device, then one naming the metric, then the profile's `retention_days`, then
 * `retention.raw_days`.
 */
export function rawDaysFor(settings: Pick<RetentionSettings, 'rawDays' | 'overrides'>, deviceId: string, metric: string, spec: MetricSpec | undefined): number {
  const o = settings.overrides;
  const both = o.find((x) => x.device === deviceId && x.metric === metric);
  if (both) return both.raw_days;
  const device = o.find((x) => x.device === deviceId && x.metric === undefined);
  if (device) return device.raw_days;
  const byMetric = o.find((x) => x.metric === metric && x.device === undefined);
  if (byMetric) return byMetric.raw_days;
  return spec?.retention_days ?? settings.rawDays;
}

/**
 * The instant before which readings are purged: `days` calendar days back on the household's
 * clock (so across a DST change a day is 23 or 25 hours), down to the start of that hour.
 */
export function retentionCutoff(now: number, days: number, timeZone: string): number {
  const back = DateTime.fromMillis(now, { zone: timeZone }).minus({ days }).toMillis();
  return hourStart(back, timeZone);
}

export interface PurgeStep {
  /** true when nothing older than retention is left */
  done: boolean;
  readings: number;
  rollups: number;
  quarantine: number;
}

/**
 * Purges what retention no longer keeps, one bounded transaction per step (Home Assistant
 * recorder style): each step rolls up the hours it is about to delete, deletes at most
 * `batchSize` raw readings (whole hours) or rollups or quarantine rows, and says whether more
 * is left. The caller yields to the event loop between steps, so ingest never waits for more
 * than one step.
 */
export class RetentionPurger {
  constructor(
    private readonly deps: { db: SluiceDatabase; rollups: Rollups; timeZone: string; specOf: SpecOf; settings: RetentionSettings },
  ) {}

  /** [PRIV-5] raw readings older than their retention are deleted, after their hours are rolled up. */
  step(now: number): PurgeStep {
    const { db, rollups, timeZone, settings } = this.deps;
    for (const s of rollups.allSeries()) {
      const cutoff = retentionCutoff(now, rawDaysFor(settings, s.device_id, s.metric, this.deps.specOf(s.device_id, s.metric)), timeZone);
      const oldest = rollups.sealed.oldest(s.id);
      if (oldest === null || oldest >= cutoff) continue;
      const readings = db.tx(() => this.purgeSeries(s, oldest, cutoff));
      return { done: false, readings, rollups: 0, quarantine: 0 };
    }
    const rollupCutoff = retentionCutoff(now, settings.rollupDays, timeZone);
    const rolls = db.tx(() => rollups.rows.purgeBefore(rollupCutoff, settings.batchSize));
    if (rolls > 0) return { done: false, readings: 0, rollups: rolls, quarantine: 0 };
    // The quarantine holds pieces of payloads: it lives no longer than raw readings do.
    const quarantineCutoff = now - settings.rawDays * 86_400_000;
    const quarantine = db.tx(
      () =>
        db.raw.prepare('DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine WHERE received_at < ? ORDER BY id LIMIT ?)').run(quarantineCutoff, settings.batchSize)
          .changes,
    );
    return { done: quarantine === 0, readings: 0, rollups: 0, quarantine };
  }

  /** Runs steps until done, awaiting `pause` between them. */
  async purge(now: number, pause: () => Promise<void>): Promise<{ readings: number; rollups: number; quarantine: number; steps: number }> {
    const total = { readings: 0, rollups: 0, quarantine: 0, steps: 0 };
    for (;;) {
      const step = this.step(now);
      total.steps++;
      total.readings += step.readings;
      total.rollups += step.rollups;
      total.quarantine += step.quarantine;
      if (step.done) return total;
      await pause();
    }
  }

  private purgeSeries(s: SeriesRow, oldest: number, cutoff: number): number {
    const { rollups, timeZone, settings } = this.deps;
    const from = hourStart(oldest, timeZone);
    const end = rollups.batchEnd(s.id, from, settings.batchSize, cutoff);
    rollups.rollRange(s, from, end);
    // Whole chunks go; one straddling `end` (a cutoff off the hour, e.g. a +05:30 household) is re-encoded.
    return rollups.sealed.deleteBefore(s.id, end);
  }
}
