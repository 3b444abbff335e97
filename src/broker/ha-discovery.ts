import type { EventBus, Logger, Service } from '../core/index.js';
import type { DeviceProfile, DeviceRecord } from '../devices/index.js';

/** How the discovery service reaches the broker: publish as the gateway, hear a topic. */
export interface DiscoveryBus {
  publish(topic: string, payload: string, options: { retain: boolean; qos: 0 | 1 }): Promise<void>;
  hear(filter: string, listener: (topic: string, payload: Buffer) => void): () => void;
}

// [HA] sensor device classes for neutral metrics whose unit Home Assistant checks.
const SENSOR_CLASSES: Readonly<Record<string, string>> = {
  temperature: 'temperature',
  humidity: 'humidity',
  power: 'power',
  energy: 'energy',
  voltage: 'voltage',
  current: 'current',
  battery: 'battery',
  illuminance: 'illuminance',
  co2: 'carbon_dioxide',
  pressure: 'pressure',
};
const BINARY_CLASSES: Readonly<Record<string, string>> = { open: 'opening', occupied: 'occupancy', window_open: 'window', battery_low: 'battery', locked: 'lock' };

/** The retained device-based discovery config of one native device (Home Assistant 2024.11+). */
export function discoveryConfig(device: DeviceRecord, profile: DeviceProfile): Record<string, unknown> {
  const id = `sluice_${device.id.replace(/-/g, '_')}`;
  const cmps: Record<string, Record<string, unknown>> = {};
  const parts: Array<{ component: string; metric: string }> = Object.keys(profile.metrics).map((metric) => ({ component: '', metric }));
  for (const component of profile.components ?? []) for (const metric of Object.keys(profile.metrics)) parts.push({ component, metric });
  for (const { component, metric } of parts) {
    const spec = profile.metrics[metric]!;
    // [PRIV-16] [PRIV-2] a never-stored metric is not handed to Home Assistant's recorder either.
    if (spec.never_store) continue;
    const key = component ? `${component}_${metric}` : metric;
    const path = component ? `value_json.${component}.${metric}` : `value_json.${metric}`;
    const c: Record<string, unknown> = { unique_id: `${id}_${key}`, name: key.replace(/_/g, ' '), object_id: `${id}_${key}` };
    if (spec.type === 'boolean') {
      Object.assign(c, { platform: 'binary_sensor', value_template: `{{ 'ON' if ${path} else 'OFF' }}` });
      if (Object.hasOwn(BINARY_CLASSES, metric)) c.device_class = BINARY_CLASSES[metric];
    } else {
      Object.assign(c, { platform: 'sensor', value_template: `{{ ${path} }}` });
      if (spec.type === 'number') {
        if (spec.unit) c.unit_of_measurement = spec.unit;
        if (Object.hasOwn(SENSOR_CLASSES, metric)) c.device_class = SENSOR_CLASSES[metric];
        c.state_class = spec.counter ? 'total_increasing' : 'measurement';
      } else {
        Object.assign(c, { device_class: 'enum', options: spec.values });
      }
    }
    cmps[key] = c;
  }
  return {
    device: { identifiers: [id], name: device.name ?? device.id, manufacturer: 'Sluice', model: profile.name, ...(device.room ? { suggested_area: device.room } : {}) },
    origin: { name: 'Sluice' },
    state_topic: `sluice/${device.id}/telemetry`,
    availability_topic: `sluice/${device.id}/status`,
    payload_available: 'online',
    payload_not_available: 'offline',
    components: cmps,
  };
}

/**
 * Opt-in (`homeassistant.discovery: true`): tells Home Assistant about Sluice's native devices
 * with retained discovery configs, again whenever it announces `<prefix>/status online`, and
 * removes a device's config (empty retained message) when the device is removed.
 */
export class HomeAssistantDiscovery implements Service {
  readonly name = 'homeassistant-discovery';
  private release: (() => void) | undefined;
  private readonly announced = new Set<string>();

  constructor(
    private readonly deps: {
      bus: DiscoveryBus;
      devices: () => readonly DeviceRecord[];
      profiles: () => ReadonlyMap<string, DeviceProfile>;
      events: EventBus;
      logger: Logger;
      prefix: string;
    },
  ) {}

  async start(): Promise<void> {
    const { bus, events, prefix } = this.deps;
    this.release = bus.hear(`${prefix}/status`, (_topic, payload) => {
      if (payload.toString('utf8').trim() === 'online') void this.announceAll();
    });
    events.on('device.changed', this, ({ deviceId, change }) => {
      if (change === 'removed' && this.announced.has(deviceId)) void this.withdraw(deviceId);
      else if (change === 'added' || change === 'described') void this.announceOne(deviceId);
    });
    await this.announceAll();
  }

  stop(): void {
    this.release?.();
    this.release = undefined;
    this.deps.events.off(this);
  }

  private topicOf(deviceId: string): string {
    return `${this.deps.prefix}/device/sluice_${deviceId.replace(/-/g, '_')}/config`;
  }

  private native(d: DeviceRecord): boolean {
    return d.role === 'device' && d.via === null && !d.discovered && d.profile !== null;
  }

  private async announceAll(): Promise<void> {
    for (const d of this.deps.devices()) if (this.native(d)) await this.announce(d);
  }

  private async announceOne(deviceId: string): Promise<void> {
    const d = this.deps.devices().find((x) => x.id === deviceId);
    if (d && this.native(d)) await this.announce(d);
  }

  private async announce(d: DeviceRecord): Promise<void> {
    const profile = this.deps.profiles().get(d.profile!);
    if (!profile) return;
    try {
      await this.deps.bus.publish(this.topicOf(d.id), JSON.stringify(discoveryConfig(d, profile)), { retain: true, qos: 1 });
      this.announced.add(d.id);
    } catch (err) {
      this.deps.logger.warn({ err, deviceId: d.id }, 'Home Assistant discovery could not be published');
    }
  }

  private async withdraw(deviceId: string): Promise<void> {
    try {
      // [HA] an empty retained config removes the device.
      await this.deps.bus.publish(this.topicOf(deviceId), '', { retain: true, qos: 1 });
      this.announced.delete(deviceId);
    } catch (err) {
      this.deps.logger.warn({ err, deviceId }, 'Home Assistant discovery could not be withdrawn');
    }
  }
}
