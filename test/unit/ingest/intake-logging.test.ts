import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EventBus, ManualClock, createLogger, openDatabase, silentLogger } from '../../../src/core/index.js';
import { loadProfiles, type DeviceRecord } from '../../../src/devices/index.js';
import { allMigrations } from '../../../src/app/index.js';
import { TelemetryIntake } from '../../../src/ingest/index.js';
import { ReadingWriter } from '../../../src/store/index.js';
import { DEVICES_DIR } from '../../helpers/gateway.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

describe('bad input logging', () => {
  it('logs a device at most once a minute (injected clock), without values', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        cb();
      },
    });
    const logger = createLogger({ level: 'warn', destination });
    const clock = new ManualClock(Date.parse('2026-11-23T12:00:00Z'));
    const db = await openDatabase({ path: join(tmpDir(), 'l.db'), migrations: allMigrations, logger: silentLogger() });
    const writer = new ReadingWriter({ db, clock, logger, events: new EventBus(), options: { batchInterval: 0, batchSize: 1, quarantineMaxEntries: 100, quarantineMaxBytes: 1 << 20 } });
    writer.start();
    const profiles = loadProfiles(DEVICES_DIR).profiles;
    const intake = new TelemetryIntake({ sink: writer, profiles: () => profiles, clock, logger, events: new EventBus(), options: { limits: { maxPayloadBytes: 1024, maxFuture: 300_000, maxPast: 86_400_000 } } });
    const device = (id: string): DeviceRecord => ({ id, role: 'device', profile: 'thermostat', baseTopic: null, simulated: false, createdAt: 0, via: null, source: null });
    const send = (id: string, payload: string) =>
      intake.fromDevice(device(id), id, { topic: `sluice/${id}/telemetry`, payload: Buffer.from(payload), qos: 1, dup: false, messageId: 1 });

    await send('a', '{"temperature": 999.25}');
    clock.advance(30_000);
    await send('a', 'not json');
    await send('b', '{"temperature": "secret-text"}');
    clock.advance(30_001);
    await send('a', '{"humidity": 101}');
    const logged = lines.filter((l) => l.msg === 'device message quarantined (further ones from this device are not logged for a minute)');
    expect(logged.map((l) => [l.deviceId, l.reason, l.metrics])).toEqual([
      ['a', 'out_of_range', ['temperature']],
      ['b', 'wrong_type', ['temperature']],
      ['a', 'out_of_range', ['humidity']],
    ]);
    // [PRIV-3] neither the values nor the payload text reach the log.
    expect(JSON.stringify(lines)).not.toMatch(/999|secret-text|101/);
    await writer.stop();
    db.close();
  });
});
