import { describe, expect, it } from 'vitest';
import { EventBus, ManualClock, silentLogger } from '../../../src/core/index.js';
import { loadProfiles, type DeviceRecord } from '../../../src/devices/index.js';
import { TelemetryIntake, type Reading, type ReadingSink, type WriteRequest } from '../../../src/ingest/index.js';
import { DEVICES_DIR } from '../../helpers/gateway.js';

const record = (id: string, profile: string): DeviceRecord => ({ id, role: 'device', profile, baseTopic: null, simulated: false, createdAt: 0, via: null, source: null });
const limits = { maxPayloadBytes: 1024, maxFuture: 300_000, maxPast: 86_400_000 };

/** An intake over a sink that holds back everything of `paused` but safety readings, as PausingSink does. */
function intakeWith(holdsBack: ReadingSink['holdsBack'] | undefined) {
  const submitted: WriteRequest[] = [];
  const profiles = loadProfiles(DEVICES_DIR).profiles;
  const sink: ReadingSink = { submit: async (r) => void submitted.push(r), ...(holdsBack ? { holdsBack } : {}) };
  const intake = new TelemetryIntake({ sink, profiles: () => profiles, clock: new ManualClock(Date.parse('2026-12-01T12:00:00Z')), logger: silentLogger(), events: new EventBus(), options: { limits } });
  return { intake, submitted };
}

const publish = (topic: string, payload: string) => ({ topic, payload: Buffer.from(payload), qos: 1 as const, dup: false, messageId: 1 });

describe('the intake verdict under a no-store pause [PAUSE-3]', () => {
  const paused = (id: string, readings: readonly Reading[]) => id.startsWith('paused') && !readings.some((r) => r.metric === 'smoke_state');

  it('is not-stored for a paused device\'s readings and status, accepted for a safety alarm or an unpaused device, refused as before', async () => {
    const { intake } = intakeWith(paused);
    const thermo = record('paused-thermo', 'thermostat');
    const smoke = record('paused-smoke', 'smoke-co-alarm');
    expect(await intake.fromDevice(thermo, 'c', publish('sluice/paused-thermo/telemetry', '{"temperature":21}'))).toBe('not-stored');
    expect(await intake.fromDevice(thermo, 'c', publish('sluice/paused-thermo/status', 'online'))).toBe('not-stored');
    expect(await intake.fromDevice(smoke, 'c', publish('sluice/paused-smoke/telemetry', '{"smoke_state":"critical","battery":80}'))).toBe('accepted');
    expect(await intake.fromDevice(record('thermo', 'thermostat'), 'c', publish('sluice/thermo/telemetry', '{"temperature":21}'))).toBe('accepted');
    // Quarantined whole wins: the broker neither retains nor delivers it.
    expect(await intake.fromDevice(thermo, 'c', publish('sluice/paused-thermo/telemetry', 'not json'))).toBe('refused');
  });

  it('is never not-stored for a sink that knows no pauses', async () => {
    const { intake, submitted } = intakeWith(undefined);
    expect(await intake.fromDevice(record('paused-thermo', 'thermostat'), 'c', publish('sluice/paused-thermo/telemetry', '{"temperature":21}'))).toBe('accepted');
    expect(submitted).toHaveLength(1);
  });
});
