import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventBus, ManualClock, openDatabase, silentLogger } from '../../../src/core/index.js';
import { loadProfiles, type DeviceRecord } from '../../../src/devices/index.js';
import { allMigrations } from '../../../src/app/index.js';
import { PoisonGuard, RedeliveryMemory, TelemetryIntake, messageDigest, type WriteRequest } from '../../../src/ingest/index.js';
import { DEVICES_DIR } from '../../helpers/gateway.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const device: DeviceRecord = { id: 't', role: 'device', profile: 'thermostat', baseTopic: null, simulated: false, createdAt: 0, via: null, source: null };
const limits = { maxPayloadBytes: 1024, maxFuture: 300_000, maxPast: 86_400_000 };

async function setup() {
  const dir = tmpDir();
  const db = await openDatabase({ path: join(dir, 'i.db'), migrations: allMigrations, logger: silentLogger() });
  const poison = new PoisonGuard({ file: join(dir, 'inflight.json'), db });
  poison.open(0);
  const submitted: WriteRequest[] = [];
  const stored = new Map<string, { payloadHash: Buffer; ts: number }>();
  const held: Array<() => void> = [];
  const sink = {
    submit: (req: WriteRequest) => {
      submitted.push(req);
      return new Promise<void>((resolve) => {
        held.push(() => {
          if (req.delivery) stored.set(`${req.delivery.clientId}/${req.delivery.packetId}`, req.delivery);
          resolve();
        });
      });
    },
  };
  let digests = 0;
  const profiles = loadProfiles(DEVICES_DIR).profiles;
  const clock = new ManualClock(Date.parse('2026-11-23T12:00:00Z'));
  const intake = new TelemetryIntake({
    sink,
    profiles: () => profiles,
    clock,
    logger: silentLogger(),
    events: new EventBus(),
    options: { limits },
    poison,
    redelivery: new RedeliveryMemory({ stored: (c, p) => stored.get(`${c}/${p}`) }),
    digest: (topic, payload) => {
      digests++;
      return messageDigest(topic, payload);
    },
  });
  const close = () => {
    poison.close();
    db.close();
  };
  return { intake, submitted, clock, digests: () => digests, /** Commits the oldest held request. */
    release: () => held.shift()!(),
    close };
}

describe('telemetry intake', () => {
  it('hashes each message once for the poison guard and the redelivery memory together', async () => {
    const s = await setup();
    const packet = { topic: 'sluice/t/telemetry', payload: Buffer.from('{"temperature": 21}'), qos: 1 as const, dup: false, messageId: 9 };
    const first = s.intake.fromDevice(device, 'c', packet);
    expect(s.digests()).toBe(1);
    const request = s.submitted[0]!;
    expect(request.delivery?.payloadHash).toEqual(messageDigest(packet.topic, packet.payload).subarray(0, 12));

    // The device resends before the commit (no PUBACK yet): same time, so the reading is stored once.
    s.clock.advance(5000);
    const again = s.intake.fromDevice(device, 'c', { ...packet, dup: true });
    expect(s.digests()).toBe(2);
    expect(s.submitted[1]!.readings[0]!.ts).toBe(request.readings[0]!.ts);
    expect(s.submitted[1]!.delivery).toBeUndefined();
    s.release();
    s.release();
    await Promise.all([first, again]);

    // After the commit the stored row answers.
    s.clock.advance(5000);
    const late = s.intake.fromDevice(device, 'c', { ...packet, dup: true });
    expect(s.submitted[2]!.readings[0]!.ts).toBe(request.readings[0]!.ts);
    s.release();
    await late;
    expect(s.digests()).toBe(3);
    s.close();
  });

  it('a reused packet id with another payload gets a new time', async () => {
    const s = await setup();
    const packet = { topic: 'sluice/t/telemetry', payload: Buffer.from('{"temperature": 21}'), qos: 1 as const, dup: false, messageId: 9 };
    const first = s.intake.fromDevice(device, 'c', packet);
    s.release();
    await first;
    s.clock.advance(1000);
    const other = s.intake.fromDevice(device, 'c', { ...packet, payload: Buffer.from('{"temperature": 22}'), dup: true });
    expect(s.submitted[1]!.readings[0]!.ts).toBe(s.submitted[0]!.readings[0]!.ts + 1000);
    s.release();
    await other;
    s.close();
  });
});
