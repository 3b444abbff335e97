import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, silentLogger } from '../../../src/core/index.js';
import { allMigrations } from '../../../src/app/index.js';
import { SealedReadings, chunkPartCount, type SealedSample } from '../../../src/store/index.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const HOUR = Date.UTC(2026, 0, 15, 10);

async function sealed() {
  const db = await openDatabase({ path: join(tmpDir(), 's.db'), migrations: allMigrations, logger: silentLogger() });
  const chunk = () => db.raw.prepare<[], { data: Buffer; count: number; flags: Buffer | null }>('SELECT data, count, flags FROM chunks').all();
  return { db, readings: new SealedReadings(db.raw), chunk };
}

const samples = (from: number, n: number, flags = 0): SealedSample[] => Array.from({ length: n }, (_, i) => ({ ts: HOUR + (from + i) * 1000, v: 2000 + from + i, flags }));

describe('sealed chunks appended in parts', () => {
  it('a later seal in the same hour appends a part; reads, counts and flags are those of one merged chunk', async () => {
    const { db, readings, chunk } = await sealed();
    db.tx(() => readings.write(7, samples(0, 10)));
    db.tx(() => readings.write(7, samples(10, 5, 1))); // gateway-stamped, after the sealed ones
    const [row] = chunk();
    expect(chunkPartCount(row!.data)).toBe(2);
    expect(row!.count).toBe(15);
    expect(readings.range(7, 0, Number.MAX_SAFE_INTEGER)).toEqual([...samples(0, 10), ...samples(10, 5, 1)]);
    expect(readings.count(7)).toBe(15);
    expect(readings.latest(7)).toEqual(samples(14, 1, 1)[0]);
    // A replay after a crash (readings already sealed, plus one new one) merges: kept once each, whole chunk again.
    db.tx(() => readings.write(7, [...samples(5, 10).map((s) => ({ ...s, v: -1 })), ...samples(15, 1)]));
    const [merged] = chunk();
    expect(chunkPartCount(merged!.data)).toBe(1);
    expect(readings.range(7, 0, Number.MAX_SAFE_INTEGER)).toEqual([...samples(0, 10), ...samples(10, 5, 1), ...samples(15, 1)]);
    // Retention cutting inside the chunk re-encodes what it keeps.
    db.tx(() => readings.write(7, samples(16, 4)));
    expect(db.tx(() => readings.deleteBefore(7, HOUR + 12_000))).toBe(12);
    expect(readings.range(7, 0, Number.MAX_SAFE_INTEGER)).toEqual([...samples(12, 3, 1), ...samples(15, 5)]);
  });

  it('after 16 parts the next seal re-encodes the chunk whole', async () => {
    const { db, readings, chunk } = await sealed();
    for (let k = 0; k < 16; k++) db.tx(() => readings.write(3, samples(k * 3, 3)));
    expect(chunkPartCount(chunk()[0]!.data)).toBe(16);
    db.tx(() => readings.write(3, samples(48, 3)));
    expect(chunkPartCount(chunk()[0]!.data)).toBe(1);
    expect(readings.range(3, 0, Number.MAX_SAFE_INTEGER)).toEqual(samples(0, 51));
  });
});
