import { describe, expect, it } from 'vitest';
import { IngestTally, type Ingest, type ReadingSink, type WriteRequest } from '../../../src/ingest/index.js';
import type { DeviceRecord } from '../../../src/devices/index.js';

const device = { id: 'kitchen' } as DeviceRecord;
const packet = { topic: 'sluice/kitchen/telemetry', payload: Buffer.from('{}'), qos: 1 as const, dup: false };
const reading = { metric: 'temperature', value: 21, ts: 1 } as unknown as WriteRequest['readings'][number];
const quarantine = (reason: string): WriteRequest['quarantine'] => ({ deviceId: 'kitchen', clientId: 'c', topic: packet.topic, reason, message: 'm', payload: packet.payload, receivedAt: 1 });

describe('IngestTally', () => {
  it('counts messages handed over, and what committed: stored messages, readings, quarantine reasons', async () => {
    const tally = new IngestTally();
    let failNext = false;
    const sink = tally.sink({
      submit: async () => {
        if (failNext) throw new Error('disk full');
      },
    } satisfies ReadingSink);
    const inner: Ingest = {
      fromDevice: async () => 'accepted',
      fromBridge: async () => 'refused',
      notYourTopic: () => undefined,
    };
    const ingest = tally.ingest(inner);
    await ingest.fromDevice(device, 'c', packet);
    await ingest.fromBridge(device, 'c', packet, undefined);
    ingest.notYourTopic!(device, 'c', packet, 'sluice/kitchen/#');
    await sink.submit({ deviceId: 'kitchen', readings: [reading, reading], specs: {} });
    await sink.submit({ deviceId: 'kitchen', readings: [reading], specs: {}, quarantine: quarantine('out_of_range') });
    await sink.submit({ deviceId: 'kitchen', readings: [], specs: {}, quarantine: quarantine('not_json') });
    // A device-chosen reason can never become a label value.
    await sink.submit({ deviceId: 'kitchen', readings: [], specs: {}, quarantine: quarantine('Kitchen Sensor 42!') });
    failNext = true;
    await expect(sink.submit({ deviceId: 'kitchen', readings: [reading], specs: {} })).rejects.toThrow('disk full');
    expect(tally.snapshot()).toEqual({ received: 3, stored: 2, readings: 3, quarantined: { out_of_range: 1, not_json: 1, other: 1 } });
  });

  it('keeps the reason labels few', async () => {
    const tally = new IngestTally();
    const sink = tally.sink({ submit: async () => undefined });
    for (let i = 0; i < 50; i++) await sink.submit({ deviceId: 'd', readings: [], specs: {}, quarantine: quarantine(`reason_${i}`) });
    const q = tally.snapshot().quarantined;
    expect(Object.keys(q)).toHaveLength(33);
    expect(q.other).toBe(18);
  });
});
