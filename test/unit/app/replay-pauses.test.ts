import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { encodeValue } from '../../../src/store/index.js';
import { appFixture } from './fixture.js';

const TZ = 'Europe/Berlin';
const at = (iso: string) => DateTime.fromISO(iso, { zone: TZ }).toMillis();

describe('policy replay under no-share pauses', () => {
  it('shows what would really have been sent: the paused part left out with its coverage, a mostly paused window withheld, as preview says', async () => {
    const f = await appFixture();
    try {
      await f.app.call('devices.add', { id: 't1', profile: 'thermostat' });
      const db = f.context.db.raw;
      const series = Number(db.prepare("INSERT INTO series (device_id, component, metric, type, unit, scale) VALUES ('t1', '', 'temperature', 'number', '°C', 0.01)").run().lastInsertRowid);
      const insert = db.prepare('INSERT INTO readings (series_id, ts, v) VALUES (?, ?, ?)');
      // One reading an hour from the 20th to the clock (2026-11-23 13:00 local); the value is the hour of day.
      for (let ts = at('2026-11-20T00:00'); ts < f.clock.now(); ts += 3_600_000) insert.run(series, ts, encodeValue('number', 0.01, DateTime.fromMillis(ts, { zone: TZ }).hour));
      const now = f.clock.now();
      // The 21st paused 00:00–13:00 (11 of 24 hours left, below min_coverage 0.5); the 22nd 18:00–24:00 (a quarter).
      f.clock.set(at('2026-11-21T00:00'));
      await f.app.call('pause.start', { device: 't1', for: '13h' });
      f.clock.set(at('2026-11-22T18:00'));
      await f.app.call('pause.start', { device: 't1', for: '6h' });
      f.clock.set(now);

      const r = await f.app.call('policy.replay', { name: 'acme', days: '4' });
      const byDate = new Map(r.windows.map((w) => [w.window.start.slice(0, 10), w]));
      expect([...byDate.keys()]).toEqual(['2026-11-20', '2026-11-21', '2026-11-22']);
      expect(byDate.get('2026-11-20')).toMatchObject({ sent: true, reason: null, items: [{ metric: 'temperature', stats: { mean: 11.5 } }] });
      expect(byDate.get('2026-11-20')!.items[0]!.coverage).toBeUndefined();
      expect(byDate.get('2026-11-21')).toMatchObject({ sent: false, reason: 'paused', items: [], bytes: 0, suppressed: [{ rule: 1, metric: 'temperature', coverage: 0.45 }] });
      // 00:00–17:00 left: the evening's readings never count.
      expect(byDate.get('2026-11-22')).toMatchObject({ sent: true, reason: null, items: [{ metric: 'temperature', coverage: 0.75, stats: { mean: 8.5 } }] });
      expect(r.totals).toMatchObject({ windows: 3, sent: 2 });

      // The same answer the real path gives: preview is the bytes a run sends.
      const paused = await f.app.call('policy.preview', { name: 'acme', window: '2026-11-21/2026-11-22' });
      expect(paused).toMatchObject({ state: 'withheld', reason: 'paused' });
      const partial = await f.app.call('policy.preview', { name: 'acme', window: '2026-11-22/2026-11-23' });
      const body = JSON.parse(partial.body!) as { items: Array<{ coverage?: number; stats: Record<string, number> }> };
      expect(body.items.map((i) => ({ coverage: i.coverage, stats: i.stats }))).toEqual(byDate.get('2026-11-22')!.items.map((i) => ({ coverage: i.coverage, stats: i.stats })));
      expect(byDate.get('2026-11-22')!.bytes).toBe(Buffer.byteLength(partial.body!, 'utf8'));
    } finally {
      f.context.close();
    }
  });
});
