import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { buildMaintenance } from '../../../src/app/index.js';
import { encodeValue } from '../../../src/store/index.js';
import { percentileType7 } from '../../../src/summarise/index.js';
import { appFixture } from './fixture.js';

const TZ = 'Europe/Berlin';
const POLICY = `version: 1
vendor: acme-heating
endpoint: https://acme.example/v1
purpose: Tune my heating schedule
expires: 2026-12-31
schedule: "0 3 * * *"
secret_file: acme.key
share:
  - devices: { kind: thermostat }
    metrics: [temperature]
    window: 1d
    stats: [max, count, p90, histogram]
    buckets: [21, 23]
    round: 0.5
`;

const day = (iso: string) => DateTime.fromISO(iso, { zone: TZ });
/** Hourly readings 18.0, 18.5, … 23.5 (repeating) from 2026-11-18 to the clock (2026-11-23 13:00 local). */
const valueAt = (i: number) => 18 + (i % 12) * 0.5;

describe('policy replay and preview read raw readings within raw retention and the hourly rollups past it', () => {
  it('says which per window, in replay and preview, with exact values from the rollups and the sketch percentile within 1 %', async () => {
    const f = await appFixture({ SLUICE_RETENTION_RAW_DAYS: '2' });
    try {
      writeFileSync(join(f.context.config.policies_dir, 'acme.yaml'), POLICY);
      await f.app.call('devices.add', { id: 't1', profile: 'thermostat' });
      const db = f.context.db.raw;
      const series = Number(db.prepare("INSERT INTO series (device_id, component, metric, type, unit, scale) VALUES ('t1', '', 'temperature', 'number', '°C', 0.01)").run().lastInsertRowid);
      const insert = db.prepare('INSERT INTO readings (series_id, ts, v) VALUES (?, ?, ?)');
      const values = new Map<string, number[]>();
      const start = day('2026-11-18T00:00').toMillis();
      for (let i = 0, ts = start; ts < f.clock.now(); i++, ts += 3_600_000) {
        insert.run(series, ts, encodeValue('number', 0.01, valueAt(i)));
        const date = DateTime.fromMillis(ts, { zone: TZ }).toISODate()!;
        values.set(date, [...(values.get(date) ?? []), valueAt(i)]);
      }
      // The retention job: two days of raw readings kept, older hours rolled up, then deleted.
      const purged = await buildMaintenance(f.context).purger.purge(f.clock.now(), () => Promise.resolve());
      expect(purged.readings).toBeGreaterThan(0);
      const oldest = db.prepare('SELECT MIN(ts) AS ts FROM readings').get() as { ts: number };
      expect(DateTime.fromMillis(oldest.ts, { zone: TZ }).toISO()).toBe('2026-11-21T13:00:00.000+01:00');

      const r = await f.app.call('policy.replay', { name: 'acme', days: '5' });
      const byDate = new Map(r.windows.map((w) => [w.window.start.slice(0, 10), w]));
      expect([...byDate.keys()]).toEqual(['2026-11-19', '2026-11-20', '2026-11-21', '2026-11-22']);
      // The 21st starts before the edge (21st 13:00): from rollups though half of it is still raw.
      expect([...byDate.values()].map((w) => w.sources)).toEqual([['rollup'], ['rollup'], ['rollup'], ['raw']]);
      for (const [date, w] of byDate) {
        const exact = [...values.get(date)!].sort((a, b) => a - b);
        expect(w.sent).toBe(true);
        const stats = w.items[0]!.stats;
        expect([stats.max, stats.count]).toEqual([23.5, 24]);
        expect(Math.abs(stats.p90! - percentileType7(exact, 0.9))).toBeLessThanOrEqual(0.01 * percentileType7(exact, 0.9) + 0.25);
      }
      // Past retention the histogram is left out (and never a number in replay's stats anyway); the preview shows it.
      const old = await f.app.call('policy.preview', { name: 'acme', window: '2026-11-20/2026-11-21' });
      expect(old).toMatchObject({ state: 'summary', source: 'rollup', sources: [{ rule: 1, metric: 'temperature', source: 'rollup' }] });
      const body = JSON.parse(old.body!) as { items: Array<{ stats: Record<string, unknown>; rollup?: unknown }> };
      expect(body.items[0]!.rollup).toEqual({ left_out: ['histogram'], percentile_relative_error: 0.01 });
      expect(body.items[0]!.stats.histogram).toBeUndefined();
      const recent = await f.app.call('policy.preview', { name: 'acme', window: '2026-11-22/2026-11-23' });
      expect(recent).toMatchObject({ state: 'summary', source: 'raw' });
      const exact22 = JSON.parse(recent.body!) as { items: Array<{ stats: Record<string, unknown>; rollup?: unknown }> };
      expect(exact22.items[0]!.rollup).toBeUndefined();
      expect(exact22.items[0]!.stats.histogram).toEqual({ edges: [21, 23], counts: [12, 8, 4] });
      // explain tells the household before approval what changes for such windows.
      expect((await f.app.call('policy.explain', { name: 'acme' })).text).toContain(
        'A window reaching past raw retention (2 days, or a device\'s or metric\'s own) is summarised from the hourly rollups: percentiles are read from an hourly sketch, within 1 % and the histogram is left out; the vendor is told in the summary.',
      );
    } finally {
      f.context.close();
    }
  });

  it('a noised rule replayed past raw retention draws its throw-away noise on the hourly rollups: the exact increase ± the noise of its ε', async () => {
    const f = await appFixture({ SLUICE_RETENTION_RAW_DAYS: '1' });
    try {
      writeFileSync(
        join(f.context.config.policies_dir, 'acme.yaml'),
        POLICY.replace(/share:[\s\S]*$/, 'share:\n  - devices: { kind: smart_plug }\n    metrics: [energy]\n    window: 1d\n    stats: [increase]\n    privacy: { epsilon: 1, clamp: [0, 0.5], unit: 1h }\n'),
      );
      await f.app.call('devices.add', { id: 'plug', profile: 'smart-plug' });
      const db = f.context.db.raw;
      const series = Number(db.prepare("INSERT INTO series (device_id, component, metric, type, unit, scale) VALUES ('plug', '', 'energy', 'number', 'kWh', 0.001)").run().lastInsertRowid);
      const insert = db.prepare('INSERT INTO readings (series_id, ts, v) VALUES (?, ?, ?)');
      // 0.5 kWh an hour from 2026-11-19 00:00: 12 kWh a day.
      const start = day('2026-11-19T00:00').toMillis();
      for (let i = 0, ts = start; ts < f.clock.now(); i++, ts += 3_600_000) insert.run(series, ts, encodeValue('number', 0.001, i * 0.5));
      await buildMaintenance(f.context).purger.purge(f.clock.now(), () => Promise.resolve());
      const r = await f.app.call('policy.replay', { name: 'acme', days: '3' });
      const w = r.windows.find((x) => x.window.start.startsWith('2026-11-21'))!;
      expect(w.sources).toEqual(['rollup']);
      const item = w.items[0]!;
      expect(item.noise).toMatchObject({ mechanism: 'discrete-laplace', epsilon: 1 });
      // The exact increase is 23 rises of 0.5 within the day plus the one from 23:00 the day before: 12 kWh;
      // the noise is small enough (±1.5 kWh at 95 %) that an increase read as 0 from the rollups would fail.
      expect(item.noise!.accuracy95.increase).toBeLessThan(3);
      expect(Math.abs(item.stats.increase! - 12)).toBeLessThanOrEqual(item.noise!.accuracy95.increase! * 4);
      expect(w.epsilon).toBe(1);
    } finally {
      f.context.close();
    }
  });
});
