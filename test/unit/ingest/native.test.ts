import { describe, expect, it } from 'vitest';
import type { DeviceProfile } from '../../../src/devices/index.js';
import { interpretMessage, resolveTimestamp } from '../../../src/ingest/index.js';
import { decodeValue, encodeValue } from '../../../src/store/index.js';

const profile: DeviceProfile = {
  name: 'thermostat',
  file: 'thermostat.yaml',
  version: 1,
  kind: 'thermostat',
  metrics: {
    temperature: { type: 'number', unit: '°C', min: -40, max: 85, resolution: 0.01, counter: false, never_store: false },
    heating: { type: 'boolean', never_store: false },
    mode: { type: 'enum', values: ['off', 'heat'], never_store: false },
    who: { type: 'enum', values: ['alice', 'bob'], never_store: true },
  },
};
const limits = { maxPayloadBytes: 1024, maxFuture: 300_000, maxPast: 7 * 86_400_000 };
const now = Date.parse('2026-11-23T12:00:00Z');
const msg = (payload: string, subtopic = 'telemetry') => interpretMessage({ deviceId: 't', subtopic, payload: Buffer.from(payload), receivedAt: now, profile, limits });

describe('native convention', () => {
  it('reads metrics and the device timestamp', () => {
    const out = msg(JSON.stringify({ temperature: 21.5, heating: true, mode: 'heat', ts: '2026-11-23T11:59:00+01:00' }));
    expect(out).toEqual({
      kind: 'readings',
      ts: Date.parse('2026-11-23T10:59:00Z'),
      timeSource: 'device',
      refused: [],
      readings: [
        { metric: 'temperature', component: '', value: 21.5, ts: Date.parse('2026-11-23T10:59:00Z'), timeSource: 'device' },
        { metric: 'heating', component: '', value: true, ts: Date.parse('2026-11-23T10:59:00Z'), timeSource: 'device' },
        { metric: 'mode', component: '', value: 'heat', ts: Date.parse('2026-11-23T10:59:00Z'), timeSource: 'device' },
      ],
    });
  });

  it('keeps the valid metrics of a partly bad message and lists the refused ones', () => {
    const out = msg(JSON.stringify({ temperature: 21.5, heating: 'yes', humidity: 40 }));
    expect(out.kind).toBe('readings');
    if (out.kind !== 'readings') return;
    expect(out.readings.map((r) => r.metric)).toEqual(['temperature']);
    expect(out.refused.map((r) => [r.metric, r.reason])).toEqual([
      ['heating', 'wrong_type'],
      ['humidity', 'unknown_metric'],
    ]);
  });

  it('refuses whole messages with a reason code', () => {
    expect(msg('{"temperature": 21').kind === 'rejected' && msg('{"temperature": 21')).toMatchObject({ reason: 'not_json' });
    expect(msg('[1,2]')).toMatchObject({ kind: 'rejected', reason: 'not_object' });
    expect(msg('{"temperature": 200}')).toMatchObject({ kind: 'rejected', reason: 'out_of_range' });
    expect(msg('{}')).toMatchObject({ kind: 'rejected', reason: 'no_metrics' });
    expect(msg('x'.repeat(2000))).toMatchObject({ kind: 'rejected', reason: 'too_large' });
    expect(msg('{"temperature": 20, "ts": 1900000000000}')).toMatchObject({ kind: 'rejected', reason: 'ts_too_far_future' });
    expect(msg('{"temperature": 20, "ts": 1700000000000}')).toMatchObject({ kind: 'rejected', reason: 'ts_too_far_past' });
    expect(msg('{}', 'events')).toMatchObject({ kind: 'rejected', reason: 'unknown_topic' });
  });

  it('validates but never stores a never-stored metric', () => {
    expect(msg('{"who": "alice", "temperature": 20}')).toMatchObject({ kind: 'readings', readings: [{ metric: 'temperature' }], refused: [] });
    expect(msg('{"who": "alice"}')).toMatchObject({ kind: 'readings', readings: [], refused: [] });
  });

  it('reads status messages', () => {
    expect(msg('online', 'status')).toEqual({ kind: 'status', online: true });
    expect(msg('offline', 'status')).toEqual({ kind: 'status', online: false });
  });

  it('falls back to the receive time for untrustworthy device clocks', () => {
    expect(resolveTimestamp(undefined, now)).toEqual({ ts: now, timeSource: 'gateway' });
    expect(resolveTimestamp(0, now)).toEqual({ ts: now, timeSource: 'gateway' });
    expect(resolveTimestamp(1_795_000_000, now)).toEqual({ ts: now, timeSource: 'gateway' }); // seconds
    expect(resolveTimestamp(86_400, now)).toEqual({ ts: now, timeSource: 'gateway' }); // uptime
    expect(resolveTimestamp('2026-11-23T11:00:00', now)).toEqual({ ts: now, timeSource: 'gateway' }); // no offset
    expect(resolveTimestamp(now - 5000, now)).toEqual({ ts: now - 5000, timeSource: 'device' });
  });

  it('stores numbers as integers of the resolution and reads them back exactly', () => {
    expect(encodeValue('number', 0.01, 21.53)).toBe(2153);
    expect(decodeValue('number', 0.01, 2153)).toBe(21.53);
    expect(decodeValue('number', 0.5, 43)).toBe(21.5);
    expect(encodeValue('number', null, 3.14159)).toBe(3.14159);
    expect(encodeValue('boolean', null, true)).toBe(1);
    expect(decodeValue('boolean', null, 0)).toBe(false);
  });
});

describe('payload keys that are built-in JavaScript property names', () => {
  const odd = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
  for (const key of odd) {
    it(`"${key}" is an unknown metric; the good metrics of the message are kept`, () => {
      // JSON.parse makes "__proto__" an own key, as a device's payload arrives.
      const out = msg(`{"temperature": 21, "${key}": 5}`);
      expect(out).toMatchObject({ kind: 'readings', refused: [{ metric: key, reason: 'unknown_metric' }] });
      if (out.kind !== 'readings') return;
      expect(out.readings.map((r) => [r.metric, r.value])).toEqual([['temperature', 21]]);
    });
  }

  it('a message of only such keys is refused as unknown metrics, not as an ingest crash', () => {
    const out = msg(JSON.stringify(Object.fromEntries(odd.map((k) => [k, 1]))));
    expect(out).toMatchObject({ kind: 'rejected', reason: 'unknown_metric' });
    if (out.kind !== 'rejected') return;
    expect(out.refused?.map((r) => r.metric)).toEqual(odd);
  });
});
