import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { addDevice, cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';

// Opt-in: Home Assistant, as a household tool, is told about Sluice's own native devices.
let gw: GatewayChild;
let dataDir: string;
let ha: MqttClient;
const got: Array<{ topic: string; payload: string; retain: boolean }> = [];

async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}
const configsOf = (id: string) => got.filter((m) => m.topic === `homeassistant/device/sluice_${id}/config`);

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-ha-'));
  const config = join(dataDir, 'sluice.yaml');
  writeFileSync(config, 'version: 1\nhomeassistant:\n  discovery: true\n');
  addDevice(dataDir, 'thermo', 'thermostat');
  addDevice(dataDir, 'z2m', 'zigbee2mqtt', ['--role', 'bridge']);
  const password = addDevice(dataDir, 'hass', '', ['--role', 'household']);
  gw = await startGateway({ dataDir, args: ['--config', config] });
  ha = await connectClient(gw.port, { username: 'hass', password, clientId: 'hass' }, (c) =>
    c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain })),
  );
  await ha.subscribeAsync('homeassistant/device/+/config', { qos: 1 });
});

afterAll(async () => {
  await ha?.endAsync(true);
  await gw?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('Home Assistant discovery of native devices', () => {
  it('publishes a retained device-based config with availability from sluice/<id>/status', async () => {
    await until(() => configsOf('thermo').length === 1);
    const [m] = configsOf('thermo');
    expect(m!.retain).toBe(true);
    const c = JSON.parse(m!.payload) as Record<string, unknown> & { components: Record<string, Record<string, unknown>> };
    expect(c).toMatchObject({
      device: { identifiers: ['sluice_thermo'], manufacturer: 'Sluice', model: 'thermostat' },
      state_topic: 'sluice/thermo/telemetry',
      availability_topic: 'sluice/thermo/status',
      payload_available: 'online',
    });
    expect(c.components.temperature).toMatchObject({ platform: 'sensor', unit_of_measurement: '°C', device_class: 'temperature', value_template: '{{ value_json.temperature }}' });
    // Only native devices: not the bridge, not the household's tools.
    expect(got.map((x) => x.topic).sort()).toEqual(['homeassistant/device/sluice_thermo/config']);
  });

  it('republishes when Home Assistant announces homeassistant/status online', async () => {
    await ha.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await until(() => configsOf('thermo').length === 2);
    expect(JSON.parse(configsOf('thermo')[1]!.payload)).toEqual(JSON.parse(configsOf('thermo')[0]!.payload));
    // A new name or room reaches Home Assistant at once.
    const r = cli(['devices', 'set', 'thermo', '--name', 'Living room thermostat', '--room', 'living'], { dataDir });
    expect(r.status, r.stderr).toBe(0);
    await until(() => configsOf('thermo').length === 3);
    expect(JSON.parse(configsOf('thermo')[2]!.payload)).toMatchObject({ device: { name: 'Living room thermostat', suggested_area: 'living' } });
  });

  it('announces a device added while running, and removes it with an empty retained config', async () => {
    addDevice(dataDir, 'plug-1', 'smart-plug');
    await until(() => configsOf('plug_1').length === 1);
    expect(JSON.parse(configsOf('plug_1')[0]!.payload)).toMatchObject({ state_topic: 'sluice/plug-1/telemetry', availability_topic: 'sluice/plug-1/status' });
    const r = cli(['devices', 'remove', 'plug-1'], { dataDir });
    expect(r.status, r.stderr).toBe(0);
    await until(() => configsOf('plug_1').length === 2);
    expect(configsOf('plug_1')[1]!.payload).toBe('');
    // The retained config is gone: a new subscriber sees only thermo's.
    const late: string[] = [];
    const password = JSON.parse(cli(['devices', 'passwd', 'hass', '--json'], { dataDir }).stdout) as { password: string };
    const c = await connectClient(gw.port, { username: 'hass', password: password.password, clientId: 'late' }, (cl) => cl.on('message', (t) => late.push(t)));
    await c.subscribeAsync('homeassistant/device/+/config', { qos: 1 });
    await new Promise((res) => setTimeout(res, 300));
    expect(late).toEqual(['homeassistant/device/sluice_thermo/config']);
    await c.endAsync();
  });
});
