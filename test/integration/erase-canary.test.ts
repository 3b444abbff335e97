import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, connectClient, startGateway } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

// A value no other part of the test (or SQLite) would produce, in the three encodings the
// store uses: enum text (readings, rollup states), a REAL stored as an 8-byte big-endian
// double, and raw payload bytes (quarantine).
const CANARY_TEXT = 'zqcanary7f3a9e';
const CANARY_NUMBER = 918273.645546372;
const canaryDouble = Buffer.alloc(8);
canaryDouble.writeDoubleBE(CANARY_NUMBER);

const PROFILE = `version: 1
kind: canary
metrics:
  level:
    type: number
    unit: x
  label:
    type: enum
    values: [plain, ${CANARY_TEXT}]
`;

function fileBytes(dataDir: string): Buffer {
  const log = join(dataDir, 'hotlog');
  const segments = existsSync(log) ? readdirSync(log).map((f) => join('hotlog', f)) : [];
  const parts = ['sluice.db', 'sluice.db-wal', ...segments].map((f) => join(dataDir, f)).filter((p) => existsSync(p)).map((p) => readFileSync(p));
  return Buffer.concat(parts);
}

function addDevice(dataDir: string, devicesDir: string, id: string, profile: string): string {
  const r = cli(['devices', 'add', id, '--profile', profile, '--json'], { dataDir, env: { SLUICE_DEVICES_DIR: devicesDir } });
  if (r.status !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as { password: string }).password;
}

describe('sluice erase', () => {
  it('erases readings still in the hot log (not sealed yet): the canary is gone from the log, the database and WAL', async () => {
    const dataDir = tmpDir();
    const devicesDir = tmpDir();
    writeFileSync(join(devicesDir, 'canary.yaml'), PROFILE);
    const secret = addDevice(dataDir, devicesDir, 'canary-dev', 'canary');
    const gw = await startGateway({ dataDir, devicesDir });
    try {
      const a = await connectClient(gw.port, { username: 'canary-dev', password: secret, clientId: 'canary-dev' });
      await a.publishAsync('sluice/canary-dev/telemetry', JSON.stringify({ level: CANARY_NUMBER, label: CANARY_TEXT, ts: Date.now() - 60_000 }), { qos: 1 });
      await a.endAsync();
      const log = readdirSync(join(dataDir, 'hotlog')).map((f) => readFileSync(join(dataDir, 'hotlog', f)));
      expect(Buffer.concat(log).includes(CANARY_TEXT), 'the reading is in the hot log before the erase').toBe(true);
      const r = cli(['erase', '--device', 'canary-dev', '--yes', '--json'], { dataDir });
      expect(r.status, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { removed: { readings: number } }).removed.readings).toBe(2);
      const after = fileBytes(dataDir);
      expect(after.includes(CANARY_TEXT), 'canary text left in the files').toBe(false);
      expect(after.includes(canaryDouble), 'canary number left in the files').toBe(false);
    } finally {
      await gw.stop();
    }
  });

  it('erases a device for real: a canary written through MQTT is gone from the database and WAL bytes', async () => {
    const dataDir = tmpDir();
    const devicesDir = tmpDir();
    writeFileSync(join(devicesDir, 'canary.yaml'), PROFILE);
    const secret = addDevice(dataDir, devicesDir, 'canary-dev', 'canary');
    const keeper = addDevice(dataDir, devicesDir, 'keeper', 'canary');
    const gw = await startGateway({ dataDir, devicesDir });
    try {
      const a = await connectClient(gw.port, { username: 'canary-dev', password: secret, clientId: 'canary-dev' });
      const b = await connectClient(gw.port, { username: 'keeper', password: keeper, clientId: 'keeper' });
      // Three hours ago, so the hourly rollup job rolls it up too.
      const ts = Date.now() - 3 * 3_600_000;
      await a.publishAsync('sluice/canary-dev/telemetry', JSON.stringify({ level: CANARY_NUMBER, label: CANARY_TEXT, ts }), { qos: 1 });
      // Refused (not a number) → quarantined with its payload head.
      await a.publishAsync('sluice/canary-dev/telemetry', JSON.stringify({ level: `${CANARY_TEXT}-q` }), { qos: 1 });
      await b.publishAsync('sluice/keeper/telemetry', JSON.stringify({ level: 5, label: 'plain', ts }), { qos: 1 });
      await a.endAsync();
      await b.endAsync();
      const maintain = cli(['db', 'maintain', '--json'], { dataDir });
      expect(maintain.status, maintain.stderr).toBe(0);
      expect((JSON.parse(maintain.stdout) as { rolled_hours: number }).rolled_hours).toBeGreaterThan(0);

      const before = fileBytes(dataDir);
      expect(before.includes(CANARY_TEXT)).toBe(true);
      expect(before.includes(canaryDouble)).toBe(true);

      const dry = cli(['erase', '--device', 'canary-dev'], { dataDir });
      expect(dry.status).toBe(2);
      expect(dry.stdout).toMatch(/would erase 2 readings, \d+ hourly rollups, 1 quarantined/);

      const r = cli(['erase', '--device', 'canary-dev', '--yes', '--json'], { dataDir });
      expect(r.status, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout) as { removed: { readings: number; rollups: number; quarantine: number; series: number } };
      expect(result.removed.readings).toBe(2);
      expect(result.removed.quarantine).toBe(1);
      expect(result.removed.rollups).toBeGreaterThan(0);
      expect(result.removed.series).toBe(2);

      const after = fileBytes(dataDir);
      expect(after.includes(CANARY_TEXT), 'canary text left in the files').toBe(false);
      expect(after.includes(canaryDouble), 'canary number left in the files').toBe(false);

      const kept = cli(['readings', 'keeper', '--since', '1d', '--json'], { dataDir });
      expect((JSON.parse(kept.stdout) as unknown[]).length).toBe(2);
      const gone = cli(['readings', 'canary-dev', '--since', '1d', '--json'], { dataDir });
      expect(JSON.parse(gone.stdout)).toEqual([]);
    } finally {
      await gw.stop();
    }
  });

  it('refuses an empty or contradictory scope', () => {
    const dataDir = tmpDir();
    expect(cli(['erase'], { dataDir }).status).toBe(2);
    expect(cli(['erase', '--all', '--device', 'x', '--yes'], { dataDir }).status).toBe(2);
  });
});
