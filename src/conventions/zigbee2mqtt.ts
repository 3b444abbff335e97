import { ignored, isObject, own, ownNumber, ownString, parseJson, rejected, underBase } from './json.js';
import { applyRule, metricOf, type ValueRule } from './readings.js';
import type { Convention, ConventionOutcome, ConventionReading, DeviceFlag, DiscoveredDevice, DiscoveredMetric, Interpretation } from './types.js';

/** A device from `bridge/devices`, kept by the caller: its rules say how to read its state. */
export interface Z2mDevice {
  ieee: string;
  friendlyName: string;
  device: DiscoveredDevice;
  rules: { property: string; rule: ValueRule }[];
}

export interface Z2mState {
  /** Longest friendly name first, so `hall/door/left` wins over `hall/door`. */
  devices: Z2mDevice[];
}

// Exposes that are bridge bookkeeping, not what the device measures.
const SKIPPED = new Set(['linkquality', 'last_seen', 'update', 'update_available', 'identify', 'effect', 'power_on_behavior', 'color_temp_startup']);

interface Expose {
  type: string;
  property: string;
  access: number;
  unit?: string;
  valueMin?: number;
  valueMax?: number;
  valueStep?: number;
  valueOn?: unknown;
  valueOff?: unknown;
  values?: string[];
  endpoint?: string;
  parent?: string;
}

/** Flattens exposes: specific types (light, switch, lock, climate) carry their features. */
function flatten(list: unknown, parent?: string): Expose[] {
  if (!Array.isArray(list)) return [];
  const out: Expose[] = [];
  for (const e of list) {
    if (!isObject(e)) continue;
    const type = ownString(e, 'type');
    if (!type) continue;
    const features = own(e, 'features');
    if (Array.isArray(features)) {
      if (type !== 'composite' && type !== 'list') out.push(...flatten(features, type));
      continue;
    }
    const property = ownString(e, 'property');
    if (!property) continue;
    const values = own(e, 'values');
    const x: Expose = { type, property, access: ownNumber(e, 'access') ?? 1 };
    const unit = ownString(e, 'unit');
    if (unit) x.unit = unit;
    const min = ownNumber(e, 'value_min');
    const max = ownNumber(e, 'value_max');
    const step = ownNumber(e, 'value_step');
    if (min !== undefined) x.valueMin = min;
    if (max !== undefined) x.valueMax = max;
    if (step !== undefined) x.valueStep = step;
    if (Object.hasOwn(e, 'value_on')) x.valueOn = e.value_on;
    if (Object.hasOwn(e, 'value_off')) x.valueOff = e.value_off;
    if (Array.isArray(values)) x.values = values.filter((v): v is string => typeof v === 'string');
    const endpoint = ownString(e, 'endpoint');
    if (endpoint) x.endpoint = endpoint;
    if (parent) x.parent = parent;
    out.push(x);
  }
  return out;
}

interface Ctx {
  battery: boolean;
}

/** Maps one expose to a neutral metric: the meaning from the property, the unit from the expose. */
function ruleFor(x: Expose, ctx: Ctx): ValueRule | undefined {
  const component = x.endpoint ?? '';
  const base = x.endpoint && x.property.endsWith(`_${x.endpoint}`) ? x.property.slice(0, -x.endpoint.length - 1) : x.property;
  const r = (metric: string, more: Partial<ValueRule> = {}): ValueRule => {
    const rule: ValueRule = { metric, component, type: x.type === 'binary' ? 'boolean' : x.type === 'enum' ? 'enum' : 'number', ...more };
    if (x.unit && rule.type === 'number' && !more.percentOf && !more.reciprocal) rule.declaredUnit = x.unit;
    if (x.type === 'binary') {
      rule.on = x.valueOn;
      rule.off = x.valueOff;
    }
    return rule;
  };
  switch (base) {
    case 'contact':
      // Zigbee2MQTT contact: true means closed, whatever value_on says (its exposes declare
      // value_on: false, the "on" state of the binary being open).
      return r('open', { map: [[true, false], [false, true]] });
    case 'occupancy':
    case 'presence':
      return r('occupied');
    case 'state':
      if (x.parent === 'lock') return r('locked');
      return x.type === 'binary' ? r('on') : undefined;
    case 'brightness':
      return x.valueMax !== undefined ? r('brightness', { percentOf: [x.valueMin ?? 0, x.valueMax] }) : r('brightness');
    case 'color_temp':
      return x.unit === 'mired' ? r('color_temperature', { reciprocal: true }) : undefined;
    case 'temperature':
    case 'local_temperature':
      return r('temperature');
    case 'humidity':
      return r('humidity');
    case 'battery':
      return r('battery');
    case 'battery_low':
      return r('battery_low');
    case 'voltage':
      // A battery device's voltage is its battery's; the unit still comes from the expose.
      return r(ctx.battery ? 'battery_voltage' : 'voltage');
    case 'power':
      return r('power');
    case 'energy':
      return r('energy');
    case 'current':
      return r('current');
    case 'illuminance':
    case 'illuminance_lux':
      return x.unit === 'lx' ? r('illuminance') : undefined;
    case 'smoke':
      return r('smoke_state', { map: [[x.valueOn ?? true, 'critical'], [x.valueOff ?? false, 'normal']] });
    case 'carbon_monoxide':
      return r('co_state', { map: [[x.valueOn ?? true, 'critical'], [x.valueOff ?? false, 'normal']] });
    case 'test':
      return r('test_in_progress');
    case 'occupied_heating_setpoint':
    case 'current_heating_setpoint':
      return r('setpoint_heat');
    case 'occupied_cooling_setpoint':
      return r('setpoint_cool');
    case 'system_mode':
      return r('mode');
    case 'running_state':
      return r('heating', { map: [['heat', true], ['idle', false], ['cool', false]] });
    case 'pi_heating_demand':
      return r('valve_position');
    case 'window_open':
      return r('window_open');
    default: {
      if (SKIPPED.has(base) || !/^[a-z][a-z0-9_]*$/.test(x.property)) return undefined;
      return r(x.property);
    }
  }
}

function kindOf(xs: Expose[], metrics: DiscoveredMetric[], battery: boolean): string {
  const has = (m: string) => metrics.some((x) => x.metric === m);
  if (xs.some((x) => x.parent === 'light')) return 'light';
  if (xs.some((x) => x.parent === 'lock')) return 'door_lock';
  if (xs.some((x) => x.parent === 'climate')) return has('valve_position') || battery ? 'radiator_valve' : 'thermostat';
  if (has('smoke_state') || has('co_state')) return 'smoke_co_alarm';
  if (has('open')) return 'contact_sensor';
  if (has('occupied')) return 'motion_sensor';
  if (xs.some((x) => x.parent === 'switch')) return 'smart_plug';
  if (has('water_leak')) return 'water_sensor';
  return 'sensor';
}

/** One `bridge/devices` entry → a device, or undefined for the coordinator and unusable entries. */
export function z2mDevice(entry: unknown): Z2mDevice | undefined {
  const ieee = ownString(entry, 'ieee_address');
  const friendlyName = ownString(entry, 'friendly_name');
  const type = ownString(entry, 'type');
  if (!ieee || !friendlyName || type === 'Coordinator') return undefined;
  const battery = ownString(entry, 'power_source') === 'Battery';
  const definition = own(entry, 'definition');
  const xs = flatten(own(definition, 'exposes')).filter((x) => (x.access & 1) === 1); // [z2m] access bit 1: published in state
  const rules: Z2mDevice['rules'] = [];
  const metrics: DiscoveredMetric[] = [];
  const flags: DeviceFlag[] = [];
  for (const x of xs) {
    const rule = ruleFor(x, { battery });
    if (!rule || rules.some((r) => r.property === x.property)) continue;
    rules.push({ property: x.property, rule });
    const range: { min?: number; max?: number; resolution?: number } = {};
    if (x.valueMin !== undefined) range.min = x.valueMin;
    if (x.valueMax !== undefined) range.max = x.valueMax;
    if (x.valueStep !== undefined) range.resolution = x.valueStep;
    const extra: Partial<DiscoveredMetric> = {};
    if (rule.type === 'enum' && !rule.map && x.values) extra.values = x.values;
    if (rule.metric === 'energy') extra.counter = true;
    metrics.push(metricOf(rule, range, extra));
  }
  if (!isObject(definition)) flags.push({ code: 'unsupported_component', detail: 'Zigbee2MQTT has no definition for this device (unsupported or still interviewing)' });
  const device: DiscoveredDevice = { key: ieee, name: friendlyName, kind: isObject(definition) ? kindOf(xs, metrics, battery) : 'unknown', metrics, flags };
  const model = ownString(definition, 'model');
  const vendor = ownString(definition, 'vendor');
  if (model) device.model = model;
  if (vendor) device.manufacturer = vendor;
  return { ieee, friendlyName, device, rules };
}

function parseAvailability(payload: Buffer): boolean | undefined {
  const text = payload.toString('utf8').trim();
  // 2.x publishes {"state":"online"}; 1.x published plain text.
  const parsed = parseJson(payload);
  const state = parsed.ok && isObject(parsed.value) ? ownString(parsed.value, 'state') : text;
  return state === 'online' ? true : state === 'offline' ? false : undefined;
}

function interpret(state: Z2mState, ctx: { base: string }, topic: string, payload: Buffer): Interpretation<Z2mState> {
  const one = (o: ConventionOutcome): Interpretation<Z2mState> => ({ state, outcomes: [o] });
  const rest = underBase(ctx.base, topic);
  if (rest === undefined) return one(ignored('outside the bridge base topic'));
  if (rest === 'bridge/devices') {
    const parsed = parseJson(payload);
    if (!parsed.ok) return one(rejected('not_json', `bridge/devices: ${parsed.message}`));
    if (!Array.isArray(parsed.value)) return one(rejected('malformed', 'bridge/devices: expected an array of devices'));
    const devices = parsed.value.map(z2mDevice).filter((d): d is Z2mDevice => d !== undefined);
    devices.sort((a, b) => b.friendlyName.length - a.friendlyName.length);
    const keys = new Set(devices.map((d) => d.ieee));
    const removed = state.devices.filter((d) => !keys.has(d.ieee)).map((d) => d.ieee);
    return { state: { devices }, outcomes: [{ kind: 'devices', devices: devices.map((d) => d.device), removed }] };
  }
  if (rest === 'bridge' || rest.startsWith('bridge/')) return one(ignored('the bridge’s own topic'));
  const device = state.devices.find((d) => rest === d.friendlyName || rest.startsWith(`${d.friendlyName}/`));
  if (!device) return one(ignored('no device with this friendly name in bridge/devices'));
  const suffix = rest.slice(device.friendlyName.length);
  if (suffix === '/availability') {
    const online = parseAvailability(payload);
    if (online === undefined) return one(rejected('malformed', 'availability: expected online or offline'));
    return one({ kind: 'availability', deviceKey: device.ieee, online });
  }
  if (suffix !== '') return one(ignored('set/get echo or a topic that carries no state'));
  const parsed = parseJson(payload);
  if (!parsed.ok) return one(rejected('not_json', parsed.message));
  if (!isObject(parsed.value)) return one(rejected('not_object', 'a device state is a JSON object'));
  const readings: ConventionReading[] = [];
  const notes: string[] = [];
  for (const { property, rule } of device.rules) {
    if (!Object.hasOwn(parsed.value, property)) continue;
    const raw = parsed.value[property];
    if (raw === null) continue; // not yet reported since the bridge started
    const res = applyRule(rule, raw);
    if (res.ok) readings.push(res.reading);
    else notes.push(res.note);
  }
  // last_seen is when the bridge last heard anything, not this reading's time: no ts.
  return one({ kind: 'readings', deviceKey: device.ieee, readings, notes });
}

/** Zigbee2MQTT: devices from the retained `bridge/devices`, state on `<base>/<friendly_name>`. */
export const zigbee2mqtt: Convention<Z2mState> = {
  name: 'zigbee2mqtt',
  defaultBaseTopic: 'zigbee2mqtt',
  initialState: () => ({ devices: [] }),
  subscriptions: (base) => [`${base}/#`],
  interpret: (state, ctx, topic, payload) => interpret(state, ctx, topic, payload),
};
