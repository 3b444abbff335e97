import { ignored, isObject, own, ownNumber, ownString, parseJson, rejected, underBase, type JsonObject } from './json.js';
import { normaliseUnit, tidy } from './units.js';
import type { Convention, ConventionOutcome, ConventionReading, DiscoveredDevice, DiscoveredMetric, Interpretation } from './types.js';

export interface ShellyDevice {
  /** The topic id (Shelly's default prefix is its own device id, e.g. shellyplus1pm-4417939341dc). */
  key: string;
  model?: string;
  gen: 1 | 2;
  metrics: DiscoveredMetric[];
  /** Gen2+: the last full status of each component (`switch:0`), with partial updates merged in. */
  status: Record<string, JsonObject>;
}

export interface ShellyState {
  devices: Map<string, ShellyDevice>;
}

interface Field {
  path: string[];
  metric: string;
  unit?: string;
  type?: 'boolean';
  counter?: boolean;
}

// [Shelly Gen2 API] component status fields and their documented units (aenergy in Wh).
const GEN2: Record<string, Field[]> = {
  switch: [
    { path: ['output'], metric: 'on', type: 'boolean' },
    { path: ['apower'], metric: 'power', unit: 'W' },
    { path: ['voltage'], metric: 'voltage', unit: 'V' },
    { path: ['current'], metric: 'current', unit: 'A' },
    { path: ['aenergy', 'total'], metric: 'energy', unit: 'Wh', counter: true },
  ],
  pm1: [
    { path: ['apower'], metric: 'power', unit: 'W' },
    { path: ['voltage'], metric: 'voltage', unit: 'V' },
    { path: ['current'], metric: 'current', unit: 'A' },
    { path: ['aenergy', 'total'], metric: 'energy', unit: 'Wh', counter: true },
  ],
  em1: [
    { path: ['act_power'], metric: 'power', unit: 'W' },
    { path: ['voltage'], metric: 'voltage', unit: 'V' },
    { path: ['current'], metric: 'current', unit: 'A' },
  ],
  em1data: [{ path: ['total_act_energy'], metric: 'energy', unit: 'Wh', counter: true }],
  cover: [
    { path: ['current_pos'], metric: 'position', unit: '%' },
    { path: ['apower'], metric: 'power', unit: 'W' },
  ],
  temperature: [{ path: ['tC'], metric: 'temperature', unit: '°C' }],
  humidity: [{ path: ['rh'], metric: 'humidity', unit: '%' }],
  devicepower: [
    { path: ['battery', 'percent'], metric: 'battery', unit: '%' },
    { path: ['battery', 'V'], metric: 'battery_voltage', unit: 'V' },
  ],
};

// [Shelly Gen2] component keys: `switch:0`, `sys`, `em1data:0`.
const COMPONENT = /^[a-z][a-z0-9]*(:\d+)?$/;

function at(o: unknown, path: string[]): unknown {
  let v = o;
  for (const k of path) v = own(v, k);
  return v;
}

/** Deep merge of a partial NotifyStatus onto the last full status; arrays are replaced. */
export function mergeStatus(base: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const k of Object.keys(patch)) {
    const p = patch[k];
    const b = Object.hasOwn(base, k) ? base[k] : undefined;
    // defineProperty: a `__proto__` key in a device's patch must stay data, not become the prototype.
    Object.defineProperty(out, k, { value: isObject(p) && isObject(b) ? mergeStatus(b, p) : p, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function componentName(id: string): string {
  return id === '0' ? '' : `ch${id}`;
}

/** Readings of the fields present in one component's (partial) status. */
function componentReadings(comp: string, status: JsonObject, notes: string[]): { readings: ConventionReading[]; metrics: DiscoveredMetric[] } {
  const [type, id = '0'] = comp.split(':') as [string, string?];
  const fields = Object.hasOwn(GEN2, type) ? GEN2[type]! : [];
  const component = componentName(id);
  const readings: ConventionReading[] = [];
  const metrics: DiscoveredMetric[] = [];
  for (const f of fields) {
    const raw = at(status, f.path);
    if (raw === undefined || raw === null) continue;
    const m: DiscoveredMetric = { metric: f.metric, component, type: f.type ?? 'number' };
    if (f.counter) m.counter = true;
    if (f.type === 'boolean') {
      if (typeof raw !== 'boolean') {
        notes.push(`${f.metric}: expected a boolean`);
        continue;
      }
      readings.push({ metric: f.metric, component, value: raw });
    } else {
      if (typeof raw !== 'number' || !Number.isFinite(raw)) {
        notes.push(`${f.metric}: expected a number`);
        continue;
      }
      const u = normaliseUnit(f.unit!);
      if (!u.ok) continue;
      m.unit = u.unit;
      readings.push({ metric: f.metric, component, value: tidy(u.convert(raw)), unit: u.unit });
    }
    metrics.push(m);
  }
  return { readings, metrics };
}

function kindOf(d: ShellyDevice): string {
  const comps = new Set([...Object.keys(d.status).map((c) => c.split(':')[0]!), ...d.metrics.map((m) => m.metric)]);
  if (comps.has('cover')) return 'cover';
  if (comps.has('switch') || comps.has('on')) return 'smart_plug';
  if (comps.has('em1') || comps.has('pm1') || comps.has('power')) return 'energy_meter';
  return 'sensor';
}

function describe(d: ShellyDevice): DiscoveredDevice {
  const out: DiscoveredDevice = { key: d.key, name: d.key, kind: kindOf(d), metrics: d.metrics, flags: [] };
  if (d.model) out.model = d.model;
  return out;
}

function epochTs(ts: unknown): { ts?: number; tsNote?: string } {
  if (typeof ts !== 'number' || !Number.isFinite(ts)) return {};
  // Gen2 ts is epoch seconds; before NTP sync it is the uptime (1.61).
  if (ts >= 1_000_000_000) return { ts: Math.round(ts * 1000) };
  return { tsNote: `ts ${ts} is not an epoch time (clock not yet synced); the receive time is used` };
}

// [Shelly Gen1] relay energy is in watt-minutes, emeter totals in Wh.
function gen1(parts: string[], text: string): { readings: ConventionReading[]; metrics: DiscoveredMetric[] } | string {
  const num = Number(text);
  const isNum = text !== '' && Number.isFinite(num);
  const reading = (metric: string, component: string, value: number | boolean, unit?: string, counter?: boolean) => {
    const r: ConventionReading = { metric, component, value };
    const m: DiscoveredMetric = { metric, component, type: typeof value === 'boolean' ? 'boolean' : 'number' };
    if (unit) {
      r.unit = unit;
      m.unit = unit;
    }
    if (counter) m.counter = true;
    return { readings: [r], metrics: [m] };
  };
  const [what, n, field] = parts;
  if (n === undefined || !/^\d+$/.test(n)) return 'not a Gen1 channel topic';
  const component = componentName(n);
  if (what === 'relay' && field === undefined) {
    if (text !== 'on' && text !== 'off') return 'relay: expected on or off';
    return reading('on', component, text === 'on');
  }
  if (!isNum) return `${what}/${n}/${field ?? ''}: expected a number`;
  if (what === 'relay' && field === 'power') return reading('power', component, num, 'W');
  if (what === 'relay' && field === 'energy') return reading('energy', component, tidy(num / 60_000), 'kWh', true);
  if (what === 'emeter' && field === 'power') return reading('power', component, num, 'W');
  if (what === 'emeter' && field === 'voltage') return reading('voltage', component, num, 'V');
  if (what === 'emeter' && field === 'current') return reading('current', component, num, 'A');
  if (what === 'emeter' && field === 'total') return reading('energy', component, tidy(num / 1000), 'kWh', true);
  return 'carries no reading';
}

function mergeMetrics(old: DiscoveredMetric[], add: DiscoveredMetric[]): DiscoveredMetric[] {
  return [...old, ...add.filter((m) => !old.some((o) => o.metric === m.metric && o.component === m.component))];
}

function interpret(state: ShellyState, ctx: { base: string }, topic: string, payload: Buffer): Interpretation<ShellyState> {
  const one = (o: ConventionOutcome): Interpretation<ShellyState> => ({ state, outcomes: [o] });
  const rest = underBase(ctx.base, topic);
  if (rest === undefined) return one(ignored('outside the bridge base topic'));
  const text = payload.toString('utf8').trim();
  if (rest === 'announce') {
    const p = parseJson(payload);
    const id = p.ok ? ownString(p.value, 'id') : undefined;
    if (!id) return one(rejected('malformed', 'announce: expected {"id": …}'));
    const prev = state.devices.get(id);
    const d: ShellyDevice = { key: id, gen: 1, metrics: prev?.metrics ?? [], status: prev?.status ?? {} };
    const model = ownString(p.ok ? p.value : undefined, 'model');
    if (model) d.model = model;
    const devices = new Map(state.devices).set(id, d);
    return { state: { devices }, outcomes: [{ kind: 'devices', devices: [describe(d)], removed: [] }] };
  }
  const [id, ...parts] = rest.split('/');
  if (!id || parts.length === 0) return one(ignored('not a device topic'));
  if (parts.length === 1 && parts[0] === 'online') {
    if (text !== 'true' && text !== 'false') return one(rejected('malformed', 'online: expected true or false'));
    return one({ kind: 'availability', deviceKey: id, online: text === 'true' });
  }
  const prev: ShellyDevice = state.devices.get(id) ?? { key: id, gen: parts[0] === 'relay' || parts[0] === 'emeter' ? 1 : 2, metrics: [], status: {} };
  let readings: ConventionReading[] = [];
  let learned: DiscoveredMetric[] = [];
  const notes: string[] = [];
  let status = prev.status;
  let model = prev.model;
  if (parts[0] === 'status' && parts.length === 2) {
    const comp = parts[1]!;
    if (!COMPONENT.test(comp)) return one(ignored(`status/${comp} is not a component`));
    const p = parseJson(payload);
    if (!p.ok) return one(rejected('not_json', p.message));
    if (!isObject(p.value)) return one(rejected('not_object', `status/${comp} is a JSON object`));
    status = { ...status, [comp]: p.value };
    ({ readings, metrics: learned } = componentReadings(comp, p.value, notes));
  } else if (parts[0] === 'events' && parts[1] === 'rpc' && parts.length === 2) {
    const p = parseJson(payload);
    if (!p.ok) return one(rejected('not_json', p.message));
    if (!isObject(p.value)) return one(rejected('not_object', 'events/rpc is a JSON object'));
    const method = ownString(p.value, 'method');
    const params = own(p.value, 'params');
    if (method !== 'NotifyStatus' && method !== 'NotifyFullStatus') return one(ignored(`${method ?? 'an rpc'} carries no status`));
    if (!isObject(params)) return one(rejected('malformed', `${method}: no params`));
    const src = ownString(p.value, 'src');
    if (src && !model) model = src.replace(/-[0-9a-f]{12}$/i, '');
    const time = epochTs(ownNumber(params, 'ts'));
    const next: Record<string, JsonObject> = method === 'NotifyFullStatus' ? {} : { ...status };
    for (const comp of Object.keys(params)) {
      const patch = params[comp];
      if (!COMPONENT.test(comp) || !isObject(patch)) continue;
      const before = Object.hasOwn(next, comp) ? next[comp]! : {};
      next[comp] = mergeStatus(before, patch);
      // Readings of the fields this update carries; the merged status keeps the rest.
      const r = componentReadings(comp, patch, notes);
      readings.push(...r.readings);
      learned.push(...r.metrics);
    }
    status = next;
    for (const r of readings) {
      if (time.ts !== undefined) r.ts = time.ts;
      if (time.tsNote !== undefined) r.tsNote = time.tsNote;
    }
  } else {
    const r = gen1(parts, text);
    if (typeof r === 'string') return r === 'carries no reading' || r === 'not a Gen1 channel topic' ? one(ignored(`${parts.join('/')} ${r}`)) : one(rejected('malformed', r));
    ({ readings, metrics: learned } = r);
  }
  const metrics = mergeMetrics(prev.metrics, learned);
  const d: ShellyDevice = { ...prev, metrics, status };
  if (model) d.model = model;
  const devices = new Map(state.devices).set(id, d);
  const outcomes: ConventionOutcome[] = [];
  if (!state.devices.has(id) || metrics.length !== prev.metrics.length || model !== prev.model) outcomes.push({ kind: 'devices', devices: [describe(d)], removed: [] });
  outcomes.push(readings.length > 0 || notes.length > 0 ? { kind: 'readings', deviceKey: id, readings, notes } : ignored('a status without readings (sys, wifi, mqtt…)'));
  return { state: { devices }, outcomes };
}

/** The last full status of a Shelly Gen2+ component, with partial updates merged (for the caller's view). */
export function shellyStatus(state: ShellyState, deviceKey: string, component: string): JsonObject | undefined {
  const d = state.devices.get(deviceKey);
  return d && Object.hasOwn(d.status, component) ? d.status[component] : undefined;
}

/** Shelly Gen2+ (<id>/status/<component>, <id>/events/rpc, <id>/online) and Gen1 (relay, emeter, announce). */
export const shelly: Convention<ShellyState> = {
  name: 'shelly',
  defaultBaseTopic: 'shellies',
  initialState: () => ({ devices: new Map() }),
  subscriptions: (base) => [`${base}/#`],
  interpret: (state, ctx, topic, payload) => interpret(state, ctx, topic, payload),
};
