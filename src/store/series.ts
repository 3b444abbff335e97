import type { SluiceDatabase } from '../core/index.js';
import type { MetricSpec } from '../devices/index.js';
import type { SeriesType } from './codec.js';

export interface SeriesInfo {
  id: number;
  type: SeriesType;
  scale: number | null;
}

/** Maps (device, component, metric) to its series row, creating it on first use; cached in memory. */
export class SeriesCatalog {
  /** device → component → metric: looked up for every reading, so no key string is built per lookup. */
  private readonly cache = new Map<string, Map<string, Map<string, SeriesInfo>>>();
  private readonly select;
  private readonly insert;

  constructor(db: SluiceDatabase) {
    this.select = db.raw.prepare<[string, string, string], SeriesInfo>('SELECT id, type, scale FROM series WHERE device_id = ? AND component = ? AND metric = ?');
    this.insert = db.raw.prepare('INSERT INTO series (device_id, component, metric, type, unit, scale) VALUES (?, ?, ?, ?, ?, ?)');
  }

  /** Must run inside the write transaction. */
  resolve(deviceId: string, component: string, metric: string, spec: MetricSpec): SeriesInfo {
    let info = this.cachedInfo(deviceId, component, metric);
    if (info) return info;
    info = this.select.get(deviceId, component, metric);
    if (!info) {
      // The scale is fixed when the series is born, so stored integers keep their meaning
      // even if the profile's resolution later changes.
      const scale = spec.type === 'number' ? (spec.resolution ?? null) : null;
      const unit = spec.type === 'number' ? spec.unit : null;
      const result = this.insert.run(deviceId, component, metric, spec.type, unit, scale);
      info = { id: Number(result.lastInsertRowid), type: spec.type, scale };
    }
    let components = this.cache.get(deviceId);
    if (!components) this.cache.set(deviceId, (components = new Map()));
    let metrics = components.get(component);
    if (!metrics) components.set(component, (metrics = new Map()));
    metrics.set(metric, info);
    return info;
  }

  /** The series' row if it is known without asking SQLite. */
  cachedInfo(deviceId: string, component: string, metric: string): SeriesInfo | undefined {
    return this.cache.get(deviceId)?.get(component)?.get(metric);
  }

  /** Forget cached rows (after an erase removed series). */
  clear(): void {
    this.cache.clear();
  }
}
