import { describe, expect, it } from 'vitest';
import { canPublish, canSubscribe } from '../../../src/broker/index.js';
import type { DeviceRecord } from '../../../src/devices/index.js';

const base = { profile: null, baseTopic: null, via: null, source: null, simulated: false, createdAt: 0 };
const device: DeviceRecord = { ...base, id: 'thermo', role: 'device', profile: 'thermostat' };
const bridge: DeviceRecord = { ...base, id: 'z2m', role: 'bridge', baseTopic: 'zigbee2mqtt' };
const household: DeviceRecord = { ...base, id: 'home', role: 'household' };
const ctx = { bridgeBases: ['zigbee2mqtt'] };

describe('topic ACL', () => {
  it('lets a device publish only under its own namespace', () => {
    expect(canPublish(device, 'sluice/thermo/telemetry', ctx)).toBe(true);
    expect(canPublish(device, 'sluice/other/telemetry', ctx)).toBe(false);
    expect(canPublish(device, 'sluice/thermo', ctx)).toBe(false);
    expect(canPublish(device, 'sluice/thermostat/telemetry', ctx)).toBe(false);
    expect(canPublish(device, '$SYS/x', ctx)).toBe(false);
  });

  it('lets a device subscribe only to its own commands', () => {
    expect(canSubscribe(device, 'sluice/thermo/cmd/#')).toBe(true);
    expect(canSubscribe(device, 'sluice/thermo/cmd/setpoint')).toBe(true);
    expect(canSubscribe(device, 'sluice/thermo/cmd')).toBe(true);
    expect(canSubscribe(device, 'sluice/+/cmd/#')).toBe(false);
    expect(canSubscribe(device, 'sluice/thermo/#')).toBe(false);
    expect(canSubscribe(device, '#')).toBe(false);
  });

  it('keeps a bridge under its base topic', () => {
    expect(canPublish(bridge, 'zigbee2mqtt/hall', ctx)).toBe(true);
    expect(canPublish(bridge, 'zigbee2mqtt', ctx)).toBe(true);
    expect(canPublish(bridge, 'zigbee2mqttx/hall', ctx)).toBe(false);
    expect(canPublish(bridge, 'sluice/z2m/telemetry', ctx)).toBe(false);
    expect(canSubscribe(bridge, 'zigbee2mqtt/+/set')).toBe(true);
    expect(canSubscribe(bridge, '#')).toBe(false);
  });

  it('lets the household read everything, command devices, and use the household bus', () => {
    expect(canSubscribe(household, '#')).toBe(true);
    expect(canSubscribe(household, '$SYS/#')).toBe(true);
    expect(canSubscribe(household, 'test/nosubscribe', ['test/nosubscribe'])).toBe(false);
    expect(canPublish(household, 'sluice/thermo/cmd/setpoint', ctx)).toBe(true);
    expect(canPublish(household, 'zigbee2mqtt/hall/set', ctx)).toBe(true);
    expect(canPublish(household, 'sluice/thermo/telemetry', ctx)).toBe(false);
    expect(canPublish(household, 'sluice/thermo', ctx)).toBe(false);
    expect(canPublish(household, '$SYS/broker', ctx)).toBe(false);
    // The household bus: Home Assistant's birth message, Node-RED's own topics, $-topics other than $SYS.
    expect(canPublish(household, 'homeassistant/status', ctx)).toBe(true);
    expect(canPublish(household, 'node-red/kitchen/lights', ctx)).toBe(true);
    expect(canPublish(household, '$TopicA/B', ctx)).toBe(true);
  });

  it('keeps a convention bridge inside its convention’s topics', () => {
    const tasmota: DeviceRecord = { ...base, id: 'tasmota', role: 'bridge', profile: 'tasmota', baseTopic: '' };
    expect(canPublish(tasmota, 'tele/washer/SENSOR', ctx)).toBe(true);
    expect(canPublish(tasmota, 'tasmota/discovery/DC4F22AABB01/config', ctx)).toBe(true);
    expect(canPublish(tasmota, 'zigbee2mqtt/hall', ctx)).toBe(false);
    expect(canSubscribe(tasmota, 'cmnd/washer/#')).toBe(true);
    expect(canSubscribe(tasmota, '#')).toBe(false);
    const esphome: DeviceRecord = { ...base, id: 'kitchen-node', role: 'bridge', profile: 'homeassistant', baseTopic: 'homeassistant' };
    expect(canPublish(esphome, 'homeassistant/sensor/kitchen-node/t/config', ctx)).toBe(true);
    expect(canPublish(esphome, 'kitchen-node/sensor/climate/state', ctx)).toBe(true);
    expect(canPublish(esphome, 'other-node/sensor/climate/state', ctx)).toBe(false);
  });
});
