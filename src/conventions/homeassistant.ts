import { ABBREVIATIONS, DEVICE_ABBREVIATIONS, expand } from './ha-abbreviations.js';
import { compileTemplate, renderTemplate } from './ha-template.js';
import { ignored, inNamespace, isObject, own, ownNumber, ownString, parseJson, rejected, underBase, type JsonObject } from './json.js';
import { applyRule, metricOf, type ValueRule } from './readings.js';
import { normaliseUnit, snakeName } from './units.js';
import type { Convention, ConventionOutcome, ConventionReading, DeviceFlag, DiscoveredDevice, DiscoveredMetric, Interpretation } from './types.js';

/** Where one metric's value arrives: a topic, how to extract it, and how it becomes neutral. */
export interface HaTap {
  topic: string;
  template?: string;
  /** A field of a JSON-schema light's state, read without a template. */
  field?: string;
  rule: ValueRule;
}

export interface HaEntity {
  deviceKey: string;
  deviceName: string;
  manufacturer?: string;
  model?: string;
  platform: string;
  deviceClass?: string;
  taps: HaTap[];
  metrics: DiscoveredMetric[];
  flags: DeviceFlag[];
  availability: { topic: string; template?: string; online: string; offline: string }[];
}

export interface HaState {
  /** Keyed by discovery topic, plus `#<component id>` for device-based discovery. */
  entities: Map<string, HaEntity>;
}

// [HA] sensor device classes → neutral metric; the unit still comes from unit_of_measurement.
const SENSOR_CLASSES = new Map<string, string>([
  ['temperature', 'temperature'],
  ['humidity', 'humidity'],
  ['power', 'power'],
  ['energy', 'energy'],
  ['voltage', 'voltage'],
  ['current', 'current'],
  ['battery', 'battery'],
  ['illuminance', 'illuminance'],
  ['pressure', 'pressure'],
  ['atmospheric_pressure', 'pressure'],
  ['carbon_dioxide', 'co2'],
]);

// [HA] binary_sensor device classes: `on` means open, motion, smoke… (so no inversion for doors).
const BINARY_CLASSES = new Map<string, { metric: string; map?: [unknown, string | boolean][] }>([
  ['door', { metric: 'open' }],
  ['window', { metric: 'open' }],
  ['garage_door', { metric: 'open' }],
  ['opening', { metric: 'open' }],
  ['motion', { metric: 'occupied' }],
  ['occupancy', { metric: 'occupied' }],
  ['presence', { metric: 'occupied' }],
  ['moisture', { metric: 'water_leak' }],
  ['battery', { metric: 'battery_low' }],
  ['heat', { metric: 'heating' }],
  ['lock', { metric: 'locked', map: [['on', false], ['off', true]] }], // [HA] lock: on means unlocked
  ['smoke', { metric: 'smoke_state', map: [['on', 'critical'], ['off', 'normal']] }],
  ['carbon_monoxide', { metric: 'co_state', map: [['on', 'critical'], ['off', 'normal']] }],
]);

const str = (o: JsonObject, k: string): string | undefined => ownString(o, k);

/** Expands abbreviations and the `~` base in every *_topic option. */
function normalise(raw: JsonObject): JsonObject {
  const o = expand(raw, ABBREVIATIONS);
  const tilde = str(o, '~');
  const fixTopic = (t: string) => (tilde === undefined ? t : t.startsWith('~') ? tilde + t.slice(1) : t.endsWith('~') ? t.slice(0, -1) + tilde : t);
  for (const k of Object.keys(o)) {
    const v = o[k];
    if ((k.endsWith('_topic') || k === 'topic') && typeof v === 'string') o[k] = fixTopic(v);
  }
  if (isObject(o.device)) o.device = expand(o.device, DEVICE_ABBREVIATIONS);
  if (Array.isArray(o.availability)) {
    o.availability = o.availability.map((a) => {
      if (!isObject(a)) return a;
      const e = expand(a, ABBREVIATIONS);
      if (typeof e.topic === 'string') e.topic = fixTopic(e.topic);
      return e;
    });
  }
  return o;
}

function deviceIdentity(o: JsonObject, fallback: string): { key: string; name: string; manufacturer?: string; model?: string } {
  const dev = own(o, 'device');
  const ids = own(dev, 'identifiers');
  const first = Array.isArray(ids) ? ids.find((i): i is string => typeof i === 'string') : typeof ids === 'string' ? ids : undefined;
  const key = first ?? str(o, 'unique_id') ?? fallback;
  const out: { key: string; name: string; manufacturer?: string; model?: string } = { key, name: ownString(dev, 'name') ?? str(o, 'name') ?? key };
  const mf = ownString(dev, 'manufacturer');
  const mdl = ownString(dev, 'model_id') ?? ownString(dev, 'model');
  if (mf) out.manufacturer = mf;
  if (mdl) out.model = mdl;
  return out;
}

function rule(metric: string, type: ValueRule['type'], more: Partial<ValueRule> = {}): ValueRule {
  return { metric, component: '', type, ...more };
}

/** The taps of one entity; unsupported forms become flags on the device. */
function entityTaps(platform: string, o: JsonObject, objectId: string, flags: DeviceFlag[]): { taps: HaTap[]; metrics: DiscoveredMetric[] } {
  const taps: HaTap[] = [];
  const metrics: DiscoveredMetric[] = [];
  const add = (topic: string | undefined, template: string | undefined, r: ValueRule, extra: Partial<DiscoveredMetric> = {}, field?: string) => {
    if (!topic) return;
    if (template !== undefined) {
      const t = compileTemplate(template);
      if (!t.ok) {
        flags.push({ code: 'unsupported_template', detail: `${r.metric}: ${template} (${t.reason})` });
        return;
      }
    }
    const tap: HaTap = { topic, rule: r };
    if (template !== undefined) tap.template = template;
    if (field !== undefined) tap.field = field;
    taps.push(tap);
    metrics.push(metricOf(r, undefined, extra));
  };
  const deviceClass = str(o, 'device_class');
  const fallbackMetric = snakeName(objectId) ?? 'value';
  switch (platform) {
    case 'sensor': {
      const unit = str(o, 'unit_of_measurement');
      const metric = (deviceClass && SENSOR_CLASSES.get(deviceClass)) ?? fallbackMetric;
      if (unit !== undefined && !normaliseUnit(unit).ok) flags.push({ code: 'unsupported_unit', detail: `${metric}: ${unit} is kept as declared` });
      const extra: Partial<DiscoveredMetric> = {};
      if (str(o, 'state_class') === 'total_increasing' || metric === 'energy') extra.counter = true;
      const r = unit === undefined ? rule(metric, deviceClass === 'enum' ? 'enum' : 'number') : rule(metric, 'number', { declaredUnit: unit });
      add(str(o, 'state_topic'), str(o, 'value_template'), r, extra);
      return { taps, metrics };
    }
    case 'binary_sensor': {
      const c = deviceClass ? BINARY_CLASSES.get(deviceClass) : undefined;
      const on = str(o, 'payload_on') ?? 'ON';
      const off = str(o, 'payload_off') ?? 'OFF';
      const r = c?.map ? rule(c.metric, 'enum', { map: c.map.map(([k, v]) => [k === 'on' ? on : off, v]) }) : rule(c?.metric ?? fallbackMetric, 'boolean', { on, off });
      add(str(o, 'state_topic'), str(o, 'value_template'), r);
      return { taps, metrics };
    }
    case 'switch': {
      const on = str(o, 'state_on') ?? str(o, 'payload_on') ?? 'ON';
      const off = str(o, 'state_off') ?? str(o, 'payload_off') ?? 'OFF';
      add(str(o, 'state_topic'), str(o, 'value_template'), rule('on', 'boolean', { on, off }));
      return { taps, metrics };
    }
    case 'light': {
      const stateTopic = str(o, 'state_topic');
      if (str(o, 'schema') === 'json') {
        const scale = ownNumber(o, 'brightness_scale') ?? 255;
        add(stateTopic, undefined, rule('on', 'boolean', { on: 'ON', off: 'OFF' }), {}, 'state');
        add(stateTopic, undefined, rule('brightness', 'number', { percentOf: [0, scale] }), {}, 'brightness');
        if (own(o, 'color_temp_kelvin') === true) add(stateTopic, undefined, rule('color_temperature', 'number', { declaredUnit: 'K' }), {}, 'color_temp');
        else add(stateTopic, undefined, rule('color_temperature', 'number', { reciprocal: true }), {}, 'color_temp');
        return { taps, metrics };
      }
      const on = str(o, 'payload_on') ?? 'ON';
      const off = str(o, 'payload_off') ?? 'OFF';
      add(stateTopic, str(o, 'state_value_template'), rule('on', 'boolean', { on, off }));
      add(str(o, 'brightness_state_topic'), str(o, 'brightness_value_template'), rule('brightness', 'number', { percentOf: [0, ownNumber(o, 'brightness_scale') ?? 255] }));
      return { taps, metrics };
    }
    case 'climate': {
      const unit = str(o, 'temperature_unit') ?? '°C';
      add(str(o, 'current_temperature_topic'), str(o, 'current_temperature_template'), rule('temperature', 'number', { declaredUnit: unit }));
      add(str(o, 'temperature_state_topic'), str(o, 'temperature_state_template'), rule('setpoint_heat', 'number', { declaredUnit: unit }));
      const modes = own(o, 'modes');
      const extra: Partial<DiscoveredMetric> = Array.isArray(modes) ? { values: modes.filter((m): m is string => typeof m === 'string') } : {};
      add(str(o, 'mode_state_topic'), str(o, 'mode_state_template'), rule('mode', 'enum'), extra);
      return { taps, metrics };
    }
    default:
      flags.push({ code: 'unsupported_component', detail: `${platform} entities are not read` });
      return { taps, metrics };
  }
}

function availabilityOf(o: JsonObject): HaEntity['availability'] {
  const online = str(o, 'payload_available') ?? 'online';
  const offline = str(o, 'payload_not_available') ?? 'offline';
  const out: HaEntity['availability'] = [];
  const single = str(o, 'availability_topic');
  if (single) {
    const a: HaEntity['availability'][number] = { topic: single, online, offline };
    const t = str(o, 'availability_template');
    if (t) a.template = t;
    out.push(a);
  }
  const list = own(o, 'availability');
  if (Array.isArray(list)) {
    for (const e of list) {
      const topic = ownString(e, 'topic');
      if (!topic) continue;
      const a: HaEntity['availability'][number] = { topic, online: ownString(e, 'payload_available') ?? online, offline: ownString(e, 'payload_not_available') ?? offline };
      const t = ownString(e, 'value_template');
      if (t) a.template = t;
      out.push(a);
    }
  }
  return out;
}

function buildEntity(platform: string, o: JsonObject, objectId: string, fallbackKey: string): HaEntity {
  const id = deviceIdentity(o, fallbackKey);
  const flags: DeviceFlag[] = [];
  const { taps, metrics } = entityTaps(platform, o, objectId, flags);
  const e: HaEntity = { deviceKey: id.key, deviceName: id.name, platform, taps, metrics, flags, availability: availabilityOf(o) };
  const dc = str(o, 'device_class');
  if (dc) e.deviceClass = dc;
  if (id.manufacturer) e.manufacturer = id.manufacturer;
  if (id.model) e.model = id.model;
  return e;
}

function kindOf(entities: HaEntity[]): string {
  const has = (p: string, dc?: string) => entities.some((e) => e.platform === p && (dc === undefined || e.deviceClass === dc));
  const metric = (m: string) => entities.some((e) => e.metrics.some((x) => x.metric === m));
  if (has('light')) return 'light';
  if (has('climate')) return 'thermostat';
  if (has('lock') || metric('locked')) return 'door_lock';
  if (metric('smoke_state') || metric('co_state')) return 'smoke_co_alarm';
  if (metric('open')) return 'contact_sensor';
  if (metric('occupied')) return 'motion_sensor';
  if (has('switch')) return 'smart_plug';
  if (metric('water_leak')) return 'water_sensor';
  return 'sensor';
}

/** The device as all its entities describe it (single-component discovery sends one per entity). */
function deviceOf(entities: Map<string, HaEntity>, key: string): DiscoveredDevice | undefined {
  const mine = [...entities.values()].filter((e) => e.deviceKey === key);
  if (mine.length === 0) return undefined;
  const first = mine[0]!;
  const d: DiscoveredDevice = { key, name: first.deviceName, kind: kindOf(mine), metrics: mine.flatMap((e) => e.metrics), flags: mine.flatMap((e) => e.flags) };
  if (first.manufacturer) d.manufacturer = first.manufacturer;
  if (first.model) d.model = first.model;
  return d;
}

/** Topics a bridge's HA entities publish state and availability on; the caller subscribes to them. */
export function homeassistantStateTopics(state: HaState): string[] {
  const out = new Set<string>();
  for (const e of state.entities.values()) {
    for (const t of e.taps) out.add(t.topic);
    for (const a of e.availability) out.add(a.topic);
  }
  return [...out];
}

// [HA] device-based discovery: options at the top level apply to every component.
const SHARED = ['state_topic', 'availability', 'availability_topic', 'availability_template', 'availability_mode', 'payload_available', 'payload_not_available', 'device', 'origin', 'json_attributes_topic'];

function discovery(state: HaState, ctx: { namespace: readonly string[] }, topic: string, parts: string[], payload: Buffer): Interpretation<HaState> {
  const one = (o: ConventionOutcome): Interpretation<HaState> => ({ state, outcomes: [o] });
  if (!inNamespace(ctx.namespace, topic)) return one(rejected('outside_namespace', `${topic} lies outside the publishing credential's namespace`));
  const deviceBased = parts[0] === 'device';
  const ownKeys = [...state.entities.keys()].filter((k) => k === topic || k.startsWith(`${topic}#`));
  const before = new Set(ownKeys.map((k) => state.entities.get(k)!.deviceKey));
  const entities = new Map(state.entities);
  for (const k of ownKeys) entities.delete(k);
  if (payload.length > 0) {
    const parsed = parseJson(payload);
    if (!parsed.ok) return one(rejected('not_json', `${topic}: ${parsed.message}`));
    if (!isObject(parsed.value)) return one(rejected('not_object', `${topic}: a discovery config is a JSON object`));
    const o = normalise(parsed.value);
    const objectId = parts[parts.length - 2]!;
    const added: [string, HaEntity][] = [];
    if (deviceBased) {
      const cmps = own(o, 'components');
      if (!isObject(cmps)) return one(rejected('malformed', `${topic}: device discovery needs cmps`));
      for (const cid of Object.keys(cmps)) {
        const raw = cmps[cid];
        if (!isObject(raw)) continue;
        const c = normalise(raw);
        for (const k of SHARED) if (!Object.hasOwn(c, k) && Object.hasOwn(o, k)) c[k] = o[k];
        const platform = str(c, 'platform');
        if (!platform) return one(rejected('malformed', `${topic}: component ${cid} has no platform (p)`));
        added.push([`${topic}#${cid}`, buildEntity(platform, c, str(c, 'object_id') ?? cid, parts[1]!)]);
      }
    } else {
      added.push([topic, buildEntity(parts[0]!, o, str(o, 'object_id') ?? objectId, parts.slice(1, -1).join('_'))]);
    }
    // A config may only point at topics its publisher could publish itself.
    for (const [, e] of added) {
      const foreign = [...e.taps.map((t) => t.topic), ...e.availability.map((a) => a.topic)].find((t) => !inNamespace(ctx.namespace, t));
      if (foreign !== undefined) return one(rejected('outside_namespace', `${topic}: ${foreign} lies outside the publishing credential's namespace`));
    }
    for (const [k, e] of added) entities.set(k, e);
  }
  const next = { entities };
  const touched = new Set(before);
  for (const [k, e] of entities) if (k === topic || k.startsWith(`${topic}#`)) touched.add(e.deviceKey);
  const devices: DiscoveredDevice[] = [];
  const removed: string[] = [];
  for (const key of touched) {
    const d = deviceOf(entities, key);
    if (d) devices.push(d);
    else removed.push(key);
  }
  return { state: next, outcomes: [{ kind: 'devices', devices, removed }] };
}

function stateMessage(state: HaState, topic: string, payload: Buffer): ConventionOutcome[] {
  const text = payload.toString('utf8');
  const byDevice = new Map<string, { readings: ConventionReading[]; notes: string[] }>();
  const avail: ConventionOutcome[] = [];
  let json: unknown;
  let jsonTried = false;
  for (const e of state.entities.values()) {
    for (const a of e.availability) {
      if (a.topic !== topic) continue;
      let v: string | undefined = text.trim();
      if (a.template) {
        const r = renderTemplate(compileTemplate(a.template), text);
        v = r.ok ? String(r.value) : undefined;
      }
      const online = v === a.online ? true : v === a.offline ? false : undefined;
      if (online !== undefined && !avail.some((x) => x.kind === 'availability' && x.deviceKey === e.deviceKey)) avail.push({ kind: 'availability', deviceKey: e.deviceKey, online });
    }
    for (const t of e.taps) {
      if (t.topic !== topic) continue;
      const slot = byDevice.get(e.deviceKey) ?? { readings: [], notes: [] };
      byDevice.set(e.deviceKey, slot);
      let raw: unknown;
      if (t.field !== undefined) {
        if (!jsonTried) {
          const p = parseJson(payload);
          json = p.ok ? p.value : undefined;
          jsonTried = true;
        }
        if (!isObject(json)) {
          slot.notes.push(`${t.rule.metric}: state is not a JSON object`);
          continue;
        }
        if (!Object.hasOwn(json, t.field) || json[t.field] === null) continue;
        raw = json[t.field];
      } else if (t.template !== undefined) {
        const r = renderTemplate(compileTemplate(t.template), text);
        if (!r.ok) {
          slot.notes.push(`${t.rule.metric}: ${r.reason}`);
          continue;
        }
        raw = r.value;
      } else raw = text.trim();
      // [HA] a binary sensor's rendered value is compared as text with payload_on/off.
      if (t.rule.type === 'boolean' || t.rule.map) raw = typeof raw === 'number' ? String(raw) : raw;
      const res = applyRule(t.rule, raw);
      if (res.ok) slot.readings.push(res.reading);
      else slot.notes.push(res.note);
    }
  }
  const out: ConventionOutcome[] = [...avail];
  for (const [deviceKey, s] of byDevice) out.push({ kind: 'readings', deviceKey, readings: s.readings, notes: s.notes });
  return out;
}

function interpret(state: HaState, ctx: { base: string; namespace: readonly string[] }, topic: string, payload: Buffer): Interpretation<HaState> {
  const rest = underBase(ctx.base, topic);
  const parts = rest?.split('/') ?? [];
  if (rest !== undefined && parts[parts.length - 1] === 'config' && (parts.length === 3 || (parts.length === 4 && parts[0] !== 'device'))) {
    return discovery(state, ctx, topic, parts, payload);
  }
  if (rest !== undefined && (rest === 'status' || parts[parts.length - 1] === 'config')) return { state, outcomes: [ignored('Home Assistant’s own status or an unknown discovery form')] };
  const outcomes = stateMessage(state, topic, payload);
  return { state, outcomes: outcomes.length > 0 ? outcomes : [ignored('no discovered entity reads this topic')] };
}

/** Home Assistant MQTT discovery (ESPHome, OpenMQTTGateway, Tasmota's HA mode and others). */
export const homeassistant: Convention<HaState> = {
  name: 'homeassistant',
  defaultBaseTopic: 'homeassistant',
  initialState: () => ({ entities: new Map() }),
  // State topics are learned from the configs: see homeassistantStateTopics.
  subscriptions: (base) => [`${base}/#`],
  interpret: (state, ctx, topic, payload) => interpret(state, ctx, topic, payload),
};

