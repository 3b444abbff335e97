import { Duplex } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { LimitName } from '../../../src/broker/limit-counters.js';
import { PacketGuard } from '../../../src/broker/packet-guard.js';
import { TokenBucket } from '../../../src/broker/token-bucket.js';

function publish(topic: string, payload: string, qos: 0 | 1 = 0, messageId?: number): Buffer {
  return mqttPacket.generate({ cmd: 'publish', topic, payload, qos, dup: false, retain: false, ...(qos ? { messageId: messageId ?? 1 } : {}) });
}

function setup(options: { maxPacketBytes?: number; rate?: TokenBucket; now?: () => number } = {}) {
  const transport = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
  const limits: LimitName[] = [];
  const guard = new PacketGuard(transport, {
    maxPacketBytes: options.maxPacketBytes ?? 1024,
    maxOutboundBytes: 1 << 20,
    rate: options.rate,
    now: options.now ?? (() => 0),
    onLimit: (n) => limits.push(n),
  });
  const packets: mqttPacket.Packet[] = [];
  const parser = mqttPacket.parser();
  parser.on('packet', (p) => packets.push(p));
  guard.on('data', (b: Buffer) => parser.parse(b));
  return { transport, guard, limits, packets };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('packet guard', () => {
  it('passes packets through byte for byte, however the input is split', async () => {
    const { transport, packets } = setup();
    const all = Buffer.concat([publish('a/b', 'x'.repeat(200)), publish('c', 'y', 1, 7), mqttPacket.generate({ cmd: 'pingreq' })]);
    for (let i = 0; i < all.length; i += 3) transport.push(all.subarray(i, i + 3));
    await tick();
    expect(packets.map((p) => p.cmd)).toEqual(['publish', 'publish', 'pingreq']);
    expect((packets[0] as mqttPacket.IPublishPacket).payload.toString()).toBe('x'.repeat(200));
  });

  it('closes the connection on an oversized remaining length before its body arrives', async () => {
    const { transport, guard, limits, packets } = setup({ maxPacketBytes: 1024 });
    // Header only: PUBLISH announcing 64 MiB.
    transport.push(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x20]));
    await tick();
    expect(limits).toEqual(['packet_too_large']);
    expect(guard.destroyed).toBe(true);
    expect(packets).toEqual([]);
  });

  it('closes the connection on a remaining length of more than 4 bytes', async () => {
    const { transport, limits } = setup();
    transport.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    await tick();
    expect(limits).toEqual(['malformed_header']);
  });

  it('drops QoS 0 publishes over the rate without disturbing the framing', async () => {
    const { transport, limits, packets } = setup({ rate: new TokenBucket(1, 2, 0) });
    const all = Buffer.concat([...Array(5).keys()].map((i) => publish('t', `m${i}`)).concat([mqttPacket.generate({ cmd: 'pingreq' })]));
    transport.push(all.subarray(0, 7));
    transport.push(all.subarray(7));
    await tick();
    expect(packets.map((p) => (p.cmd === 'publish' ? p.payload.toString() : p.cmd))).toEqual(['m0', 'm1', 'pingreq']);
    expect(limits.filter((l) => l === 'publish_rate_dropped')).toHaveLength(3);
  });

  it('delays QoS 1 publishes over the rate instead of dropping them', async () => {
    let now = 0;
    const { transport, limits, packets } = setup({ rate: new TokenBucket(100, 1, 0), now: () => now });
    transport.push(Buffer.concat([publish('t', 'a', 1, 1), publish('t', 'b', 1, 2), publish('t', 'c', 1, 3)]));
    await tick();
    expect(packets).toHaveLength(1);
    expect(limits).toContain('publish_rate_delayed');
    now = 100;
    await new Promise((r) => setTimeout(r, 50));
    expect(packets.map((p) => (p as mqttPacket.IPublishPacket).payload.toString())).toEqual(['a', 'b', 'c']);
  });
});
