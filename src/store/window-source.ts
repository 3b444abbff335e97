import type { TimeWindow } from '../core/index.js';
import type { StoredReading, StoreQueries } from './queries.js';
import { rawDaysFor, retentionCutoff, type RetentionSettings } from './retention.js';
import { hourStart, rollupHours, type HourRollup, type Point } from './rollup-stats.js';
import type { Rollups, SpecOf } from './rollups.js';

/** Where a summary of one device's metric over one window is computed from. */
export type SummarySource = 'raw' | 'rollup';

export interface WindowSourceDeps {
  queries: StoreQueries;
  rollups: Rollups;
  specOf: SpecOf;
  timeZone: string;
  /** ms a value is held for time-weighted statistics (as the rollups were computed) */
  hold: number;
  retention: Pick<RetentionSettings, 'rawDays' | 'overrides'>;
}

/** What summarise reads for one window: raw readings, which source each series needs, and its hourly rollups. */
export interface WindowReadings {
  samples(deviceId: string, metric: string): Point[];
  sourceOf(deviceId: string, metric: string): SummarySource;
  hours(deviceId: string, metric: string): HourRollup[];
}

const ALL = Number.MAX_SAFE_INTEGER;
const DAY = 86_400_000;

/**
 * Reads what a summary of a window needs: the raw readings while the whole window is within
 * the series' raw retention, the hourly rollups once any part of it is past it. The choice is
 * made from the clock and the retention settings, not from what the purge has deleted yet, so a
 * window's summary does not change when the retention job runs.
 */
export class WindowSource {
  constructor(private readonly deps: WindowSourceDeps) {}

  /**
   * The raw readings of a device's metric in [from, to), oldest first. The one place summaries
   * read raw readings (the store's query interface, sealed rows and the hot head).
   */
  raw(deviceId: string, metric: string, from: number, to: number, limit = ALL): StoredReading[] {
    return this.deps.queries.readings({ deviceId, metric, since: from, until: to, limit });
  }

  /** The instant before which this series' raw readings are, or are about to be, purged. */
  rawCutoff(deviceId: string, metric: string, now: number): number {
    return retentionCutoff(now, rawDaysFor(this.deps.retention, deviceId, metric, this.deps.specOf(deviceId, metric)), this.deps.timeZone);
  }

  /** raw when the whole window is within raw retention at `now`, rollup when any part of it is past it. */
  sourceOf(deviceId: string, metric: string, window: TimeWindow, now: number): SummarySource {
    return window.start < this.rawCutoff(deviceId, metric, now) ? 'rollup' : 'raw';
  }

  samples(deviceId: string, metric: string, window: TimeWindow): Point[] {
    return this.raw(deviceId, metric, window.start, window.end).map((r) => ({ ts: r.ts, value: r.value }));
  }

  /**
   * The hourly rollups of a device's metric over the window (one list over all its components):
   * stored rollups for the hours before its oldest raw reading, and the same rollup computed from
   * the raw readings for the hours after it — so the result does not depend on whether the rollup
   * job has reached the newest hours yet.
   */
  hours(deviceId: string, metric: string, window: TimeWindow): HourRollup[] {
    const { rollups, timeZone, hold } = this.deps;
    const oldest = this.raw(deviceId, metric, 0, ALL, 1)[0]?.ts;
    const rawFrom = oldest === undefined ? window.end : Math.min(window.end, Math.max(window.start, hourStart(oldest, timeZone)));
    // The value held into the first raw hour (and a counter's last value): a day back is enough for
    // the hold; an older one comes from the rollups.
    const readings = rawFrom < window.end ? this.raw(deviceId, metric, rawFrom - DAY - hold, window.end) : [];
    const out: HourRollup[] = [];
    for (const series of rollups.seriesOf(deviceId, metric)) {
      out.push(...rollups.hoursOf(series, window.start, rawFrom));
      if (rawFrom >= window.end) continue;
      const points = readings.filter((r) => r.component === series.component).map((r): Point => ({ ts: r.ts, value: r.value }));
      const inside = points.filter((p) => p.ts >= rawFrom);
      const lastRaw = points.filter((p) => p.ts < rawFrom).at(-1);
      const rolled = rollups.lastRolledBefore(series, rawFrom);
      const previous = lastRaw && (!rolled || lastRaw.ts >= rolled.ts) ? lastRaw : rolled;
      const spec = this.deps.specOf(deviceId, metric);
      const shape = { type: series.type, counter: spec?.type === 'number' && spec.counter };
      out.push(...rollupHours(shape, inside, previous, rawFrom, window.end, hold));
    }
    return out;
  }

  /** The readings of one window as summarise takes them, with the source decided at `now`. */
  forWindow(window: TimeWindow, now: number): WindowReadings {
    return {
      samples: (d, m) => this.samples(d, m, window),
      sourceOf: (d, m) => this.sourceOf(d, m, window, now),
      hours: (d, m) => this.hours(d, m, window),
    };
  }
}
