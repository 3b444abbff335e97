import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { addDevice, cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { profileFixtures } from '../fixtures/device-payloads.js';

// One gateway for the file: every shipped profile gets a device and its fixture messages.
let gw: GatewayChild;
let dataDir: string;
const clients: MqttClient[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-prof-'));
  gw = await startGateway({ dataDir });
});

afterAll(async () => {
  for (const c of clients) await c.endAsync();
  await gw?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function readings(id: string): Array<Record<string, unknown>> {
  const r = cli(['readings', id, '--since', '1d', '--json'], { dataDir });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Array<Record<string, unknown>>;
}

function payloadText(p: string | object): string {
  if (typeof p === 'string') return p;
  return JSON.stringify(p).replace('"ts":"T"', `"ts":"${new Date(Date.now() - 1000).toISOString()}"`);
}

describe('every shipped profile through the real gateway', () => {
  let bridge: MqttClient;
  beforeAll(async () => {
    const password = addDevice(dataDir, 'zigbee2', '', ['--role', 'bridge', '--base-topic', 'zigbee2mqtt']);
    bridge = await connectClient(gw.port, { username: 'zigbee2', password, clientId: 'z2m' });
    clients.push(bridge);
  });

  for (const fx of profileFixtures) {
    it(`${fx.profile}: readings, units and time source`, async () => {
      const id = `dev-${fx.profile}`;
      let publish: (topic: string, payload: string) => Promise<unknown>;
      if (fx.via) {
        const r = cli(['devices', 'add', id, '--profile', fx.profile, '--via', 'zigbee2', '--source', fx.via.source, '--json'], { dataDir });
        expect(r.status, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ id, password: null, via: 'zigbee2', source: fx.via.source });
        publish = (topic, payload) => bridge.publishAsync(`zigbee2mqtt/${fx.via!.source}${topic ? `/${topic}` : ''}`, payload, { qos: 1 });
      } else {
        const password = addDevice(dataDir, id, fx.profile);
        const client = await connectClient(gw.port, { username: id, password, clientId: id });
        clients.push(client);
        publish = (topic, payload) => client.publishAsync(`sluice/${id}/${topic}`, payload, { qos: 1 });
      }
      for (const m of fx.messages) await publish(m.topic, payloadText(m.payload));
      const got = readings(id)
        .map(({ ts: _ts, ...rest }) => rest)
        .sort((a, b) => `${a.component ?? ''}.${a.metric}`.localeCompare(`${b.component ?? ''}.${b.metric}`));
      const want = [...fx.expected].sort((a, b) => `${a.component ?? ''}.${a.metric}`.localeCompare(`${b.component ?? ''}.${b.metric}`));
      expect(got).toEqual(want);
      // Nothing in the fixture is refused.
      const q = JSON.parse(cli(['quarantine', '--device', id, '--json'], { dataDir }).stdout) as unknown[];
      expect(q).toEqual([]);
    });
  }

  it('a bridge message for an unregistered device or the bridge itself is acknowledged and not kept', async () => {
    await bridge.publishAsync('zigbee2mqtt/bridge/state', '{"state":"online"}', { qos: 1, retain: true });
    await bridge.publishAsync('zigbee2mqtt/garage_sensor', '{"temperature": 12}', { qos: 1 });
    const q = JSON.parse(cli(['quarantine', '--json'], { dataDir }).stdout) as unknown[];
    expect(q).toEqual([]);
  });

  it('a device behind a bridge has no login, and --via needs a bridge', () => {
    const r = cli(['devices', 'add', 'x1', '--profile', 'light', '--via', 'dev-thermostat', '--json'], { dataDir });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--via must name a registered bridge');
    const hall = cli(['devices', 'add', 'hall-light', '--profile', 'light', '--via', 'zigbee2', '--source', 'hall_light', '--json'], { dataDir });
    expect(hall.status, hall.stderr).toBe(0);
    const p = cli(['devices', 'passwd', 'hall-light'], { dataDir });
    expect(p.status).toBe(2);
    const rm = cli(['devices', 'remove', 'zigbee2'], { dataDir });
    expect(rm.stderr).toContain('still has devices behind it');
  });
});
