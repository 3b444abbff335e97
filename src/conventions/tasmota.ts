import { ignored, isObject, own, ownString, parseJson, rejected, underBase, type JsonObject } from './json.js';
import { normaliseUnit, tidy } from './units.js';
import type { Convention, ConventionOutcome, ConventionReading, DiscoveredDevice, DiscoveredMetric, Interpretation } from './types.js';

export interface TasmotaDevice {
  /** MAC from tasmota/discovery, else the device's %topic% until discovery arrives. */
  key: string;
  topic: string;
  name: string;
  model?: string;
  relays: number;
  light: boolean;
  online: string;
  offline: string;
  metrics: DiscoveredMetric[];
}

export interface TasmotaState {
  /** Keyed by %topic%. */
  devices: Map<string, TasmotaDevice>;
  /** Last ENERGY.Total per device key and component, to notice counter resets. */
  lastTotals: Map<string, number>;
}

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;
const ISO_LOCAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/;

// [Tasmota] documented units of the ENERGY block; Today/Yesterday are derived from Total and not kept.
const ENERGY = new Map<string, { metric: string; unit?: string; counter?: boolean }>([
  ['Total', { metric: 'energy', unit: 'kWh', counter: true }],
  ['Power', { metric: 'power', unit: 'W' }],
  ['Voltage', { metric: 'voltage', unit: 'V' }],
  ['Current', { metric: 'current', unit: 'A' }],
  ['Factor', { metric: 'power_factor' }],
]);

// [Tasmota] sensor fields; Temperature is in TempUnit, Pressure in PressureUnit.
const SENSOR_FIELDS = new Map<string, { metric: string; unit?: string; unitKey?: string }>([
  ['Temperature', { metric: 'temperature', unitKey: 'TempUnit' }],
  ['Humidity', { metric: 'humidity', unit: '%' }],
  ['Pressure', { metric: 'pressure', unitKey: 'PressureUnit', unit: 'hPa' }],
  ['Illuminance', { metric: 'illuminance', unit: 'lx' }],
  ['CarbonDioxide', { metric: 'co2', unit: 'ppm' }],
]);

/** The time of a tele message: Tasmota's Time is local and usually has no offset. */
export function tasmotaTime(time: unknown): { ts?: number; tsNote?: string } {
  if (typeof time !== 'string') return {};
  if (ISO_WITH_OFFSET.test(time)) {
    const ms = Date.parse(time);
    if (!Number.isNaN(ms)) return { ts: ms };
  }
  if (ISO_LOCAL.test(time)) return { tsNote: `Time ${time} has no UTC offset; the receive time is used (set the timezone and SetOption52 1 on the device)` };
  return { tsNote: `Time ${JSON.stringify(time)} is not ISO 8601; the receive time is used` };
}

function channel(i: number, n: number): string {
  return n > 1 ? `ch${i + 1}` : '';
}

/** A SENSOR payload (or discovery's `sn`) → neutral readings; units from Tasmota's documented ones. */
export function tasmotaSensor(sn: JsonObject): { readings: ConventionReading[]; notes: string[]; metrics: DiscoveredMetric[] } {
  const readings: ConventionReading[] = [];
  const metrics: DiscoveredMetric[] = [];
  const notes: string[] = [];
  const push = (metric: string, component: string, raw: unknown, declared: string | undefined, counter?: boolean) => {
    if (typeof raw !== 'number' || !Number.isFinite(raw)) {
      notes.push(`${metric}: expected a number`);
      return;
    }
    const m: DiscoveredMetric = { metric, component, type: 'number' };
    if (counter) m.counter = true;
    let value = raw;
    if (declared !== undefined) {
      const u = normaliseUnit(declared);
      if (!u.ok) {
        notes.push(`${metric}: unit ${declared} is not understood`);
        return;
      }
      value = tidy(u.convert(raw));
      m.unit = u.unit;
    }
    const r: ConventionReading = { metric, component, value };
    if (m.unit) r.unit = m.unit;
    readings.push(r);
    metrics.push(m);
  };
  const blocks = Object.keys(sn).filter((k) => k !== 'ENERGY' && isObject(sn[k]));
  for (const block of Object.keys(sn)) {
    const v = sn[block];
    if (!isObject(v)) continue;
    if (block === 'ENERGY') {
      for (const [field, spec] of ENERGY) {
        if (!Object.hasOwn(v, field)) continue;
        const raw = v[field];
        // Multi-channel meters send arrays: one value per channel.
        if (Array.isArray(raw)) raw.forEach((x, i) => push(spec.metric, channel(i, raw.length), x, spec.unit, spec.counter));
        else push(spec.metric, '', raw, spec.unit, spec.counter);
      }
      continue;
    }
    const component = blocks.length > 1 ? block.toLowerCase().replace(/[^a-z0-9]+/g, '_') : '';
    for (const [field, spec] of SENSOR_FIELDS) {
      if (!Object.hasOwn(v, field)) continue;
      const unit = spec.unitKey ? (ownString(sn, spec.unitKey) ?? spec.unit) : spec.unit;
      if (unit === undefined) {
        notes.push(`${spec.metric}: no ${spec.unitKey ?? 'unit'} in the message`);
        continue;
      }
      push(spec.metric, component, v[field], unit);
    }
  }
  return { readings, notes, metrics };
}

function powerReadings(o: JsonObject): ConventionReading[] {
  const keys = Object.keys(o).filter((k) => /^POWER\d?$/.test(k));
  const out: ConventionReading[] = [];
  for (const k of keys) {
    const v = o[k];
    if (v !== 'ON' && v !== 'OFF') continue;
    const n = k === 'POWER' ? 1 : Number(k.slice(5));
    out.push({ metric: 'on', component: keys.length > 1 ? `ch${n}` : '', value: v === 'ON' });
  }
  return out;
}

function kindOf(d: TasmotaDevice): string {
  if (d.light) return 'light';
  if (d.relays > 0) return 'smart_plug';
  return 'sensor';
}

function describe(d: TasmotaDevice): DiscoveredDevice {
  const out: DiscoveredDevice = { key: d.key, name: d.name, kind: kindOf(d), metrics: d.metrics, flags: [] };
  if (d.model) out.model = d.model;
  return out;
}

function mergeMetrics(old: DiscoveredMetric[], add: DiscoveredMetric[]): DiscoveredMetric[] | undefined {
  const fresh = add.filter((m) => !old.some((o) => o.metric === m.metric && o.component === m.component));
  return fresh.length > 0 ? [...old, ...fresh] : undefined;
}

function interpret(state: TasmotaState, ctx: { base: string }, topic: string, payload: Buffer): Interpretation<TasmotaState> {
  const one = (o: ConventionOutcome): Interpretation<TasmotaState> => ({ state, outcomes: [o] });
  const disc = /^tasmota\/discovery\/([0-9A-Fa-f]{12})\/(config|sensors)$/.exec(topic);
  if (disc) {
    const mac = disc[1]!.toUpperCase();
    const parsed = parseJson(payload);
    if (payload.length === 0) return one(ignored('discovery cleared'));
    if (!parsed.ok) return one(rejected('not_json', `${topic}: ${parsed.message}`));
    if (!isObject(parsed.value)) return one(rejected('not_object', `${topic}: expected an object`));
    const devices = new Map(state.devices);
    if (disc[2] === 'config') {
      const t = ownString(parsed.value, 't');
      if (!t) return one(rejected('malformed', `${topic}: no topic (t)`));
      const rl = own(parsed.value, 'rl');
      const ltSt = own(parsed.value, 'lt_st');
      const prev = devices.get(t);
      const d: TasmotaDevice = {
        key: mac,
        topic: t,
        name: ownString(parsed.value, 'dn') ?? ownString(parsed.value, 'hn') ?? t,
        relays: Array.isArray(rl) ? rl.filter((x) => x === 1).length : 0,
        light: typeof ltSt === 'number' && ltSt > 0,
        online: ownString(parsed.value, 'onln') ?? 'Online',
        offline: ownString(parsed.value, 'ofln') ?? 'Offline',
        metrics: prev?.metrics ?? [],
      };
      const md = ownString(parsed.value, 'md');
      if (md) d.model = md;
      if (d.relays > 0 && !d.metrics.some((m) => m.metric === 'on')) {
        const chans = d.relays > 1 ? Array.from({ length: d.relays }, (_, i) => `ch${i + 1}`) : [''];
        d.metrics = [...chans.map((component) => ({ metric: 'on', component, type: 'boolean' as const })), ...d.metrics];
      }
      devices.set(t, d);
      const removed = prev && prev.key !== mac ? [prev.key] : [];
      return { state: { ...state, devices }, outcomes: [{ kind: 'devices', devices: [describe(d)], removed }] };
    }
    const d = [...devices.values()].find((x) => x.key === mac);
    const sn = own(parsed.value, 'sn');
    if (!d || !isObject(sn)) return one(ignored('sensors for a device whose config has not arrived'));
    const merged = mergeMetrics(d.metrics, tasmotaSensor(sn).metrics);
    if (!merged) return one(ignored('no new sensors'));
    const nd = { ...d, metrics: merged };
    devices.set(d.topic, nd);
    return { state: { ...state, devices }, outcomes: [{ kind: 'devices', devices: [describe(nd)], removed: [] }] };
  }
  const rest = underBase(ctx.base, topic);
  const parts = rest?.split('/') ?? [];
  if (parts.length !== 3 || (parts[0] !== 'tele' && parts[0] !== 'stat')) return one(ignored('not a Tasmota tele/stat topic'));
  const [prefix, devTopic, kind] = parts as [string, string, string];
  let device = state.devices.get(devTopic);
  const outcomes: ConventionOutcome[] = [];
  let devices = state.devices;
  if (!device) {
    // Without tasmota/discovery (SetOption19) the topic is the only identity there is.
    device = { key: devTopic, topic: devTopic, name: devTopic, relays: 0, light: false, online: 'Online', offline: 'Offline', metrics: [] };
    devices = new Map(devices);
    devices.set(devTopic, device);
  }
  const text = payload.toString('utf8').trim();
  if (prefix === 'tele' && kind === 'LWT') {
    const online = text === device.online ? true : text === device.offline ? false : undefined;
    if (online === undefined) return one(rejected('malformed', `LWT: expected ${device.online} or ${device.offline}`));
    return { state: { ...state, devices }, outcomes: [{ kind: 'availability', deviceKey: device.key, online }] };
  }
  let readings: ConventionReading[] = [];
  const notes: string[] = [];
  let learned: DiscoveredMetric[] = [];
  let lastTotals = state.lastTotals;
  if (prefix === 'stat' && kind === 'POWER') {
    if (text !== 'ON' && text !== 'OFF') return one(rejected('malformed', 'POWER: expected ON or OFF'));
    readings = [{ metric: 'on', component: '', value: text === 'ON' }];
  } else if ((prefix === 'tele' && (kind === 'SENSOR' || kind === 'STATE')) || (prefix === 'stat' && kind === 'RESULT')) {
    const parsed = parseJson(payload);
    if (!parsed.ok) return one(rejected('not_json', parsed.message));
    if (!isObject(parsed.value)) return one(rejected('not_object', `${kind} is a JSON object`));
    const o = parsed.value;
    if (kind === 'SENSOR') {
      const s = tasmotaSensor(o);
      readings = s.readings;
      notes.push(...s.notes);
      learned = s.metrics;
      const totals = new Map(lastTotals);
      for (const r of readings) {
        if (r.metric !== 'energy' || typeof r.value !== 'number') continue;
        const k = `${device.key}\u0000${r.component}`;
        const before = totals.get(k);
        if (before !== undefined && r.value < before) notes.push(`energy counter reset: Total ${r.value} after ${before}`);
        totals.set(k, r.value);
      }
      lastTotals = totals;
    } else {
      readings = powerReadings(o);
      learned = readings.map((r) => ({ metric: 'on', component: r.component, type: 'boolean' as const }));
    }
    const time = kind === 'RESULT' ? {} : tasmotaTime(own(o, 'Time'));
    for (const r of readings) {
      if (time.ts !== undefined) r.ts = time.ts;
      if (time.tsNote !== undefined) r.tsNote = time.tsNote;
    }
  } else return one(ignored(`${prefix}/${kind} carries no reading`));
  const merged = mergeMetrics(device.metrics, learned);
  if (merged || devices !== state.devices) {
    const nd = { ...device, metrics: merged ?? device.metrics };
    devices = new Map(devices);
    devices.set(devTopic, nd);
    outcomes.push({ kind: 'devices', devices: [describe(nd)], removed: [] });
  }
  outcomes.push({ kind: 'readings', deviceKey: device.key, readings, notes });
  return { state: { devices, lastTotals }, outcomes };
}

/** Tasmota: tele/<topic>/SENSOR|STATE|LWT, stat/<topic>/POWER|RESULT, tasmota/discovery/<MAC>/…. */
export const tasmota: Convention<TasmotaState> = {
  name: 'tasmota',
  // Tasmota's FullTopic is %prefix%/%topic%/ by default: no base; a base is a prefix before it.
  defaultBaseTopic: '',
  initialState: () => ({ devices: new Map(), lastTotals: new Map() }),
  subscriptions: (base) => {
    const p = base === '' ? '' : `${base}/`;
    return [`${p}tele/+/+`, `${p}stat/+/+`, 'tasmota/discovery/#'];
  },
  interpret: (state, ctx, topic, payload) => interpret(state, ctx, topic, payload),
};
