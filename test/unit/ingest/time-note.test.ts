import { describe, expect, it } from 'vitest';
import { EventBus, ManualClock, silentLogger } from '../../../src/core/index.js';
import { loadProfiles, type DeviceRecord } from '../../../src/devices/index.js';
import { TelemetryIntake, type WriteRequest } from '../../../src/ingest/index.js';
import { DEVICES_DIR } from '../../helpers/gateway.js';

const device: DeviceRecord = { id: 't', role: 'device', profile: 'thermostat', baseTopic: null, simulated: false, createdAt: 0, via: null, source: null };
const profiles = loadProfiles(DEVICES_DIR).profiles;

describe('a device time the gateway cannot use', () => {
  it('is noted for the maker (ts_unusable, with the reason), at most once an hour, and the readings are kept', async () => {
    const submitted: WriteRequest[] = [];
    const clock = new ManualClock(Date.parse('2026-11-23T12:00:00Z'));
    const intake = new TelemetryIntake({
      sink: { submit: async (r) => void submitted.push(r) },
      profiles: () => profiles,
      clock,
      logger: silentLogger(),
      events: new EventBus(),
      options: { limits: { maxPayloadBytes: 1024, maxFuture: 300_000, maxPast: 86_400_000 } },
    });
    const send = (payload: object) => intake.fromDevice(device, 'c', { topic: 'sluice/t/telemetry', payload: Buffer.from(JSON.stringify(payload)), qos: 1, dup: false, messageId: 1 });
    expect(await send({ temperature: 21.5, ts: 1_795_435_200 })).toBe('accepted');
    expect(submitted[0]!.readings.map((r) => [r.metric, r.value, r.timeSource])).toEqual([['temperature', 21.5, 'gateway']]);
    expect(submitted[0]!.quarantine).toMatchObject({ reason: 'ts_unusable', message: expect.stringContaining('epoch seconds') });
    clock.advance(60_000);
    await send({ temperature: 21.6, ts: 'yesterday' });
    expect(submitted[1]!.quarantine).toBeUndefined();
    clock.advance(3_600_000);
    await send({ temperature: 21.7, ts: '2026-11-23T13:00:00' });
    expect(submitted[2]!.quarantine).toMatchObject({ reason: 'ts_unusable', message: expect.stringContaining('no UTC offset') });
    // A usable time, or none at all, is no note.
    clock.advance(3_600_000);
    await send({ temperature: 21.8 });
    await send({ temperature: 21.9, ts: clock.now() - 1000 });
    expect(submitted.slice(3).map((r) => r.quarantine)).toEqual([undefined, undefined]);
  });
});
