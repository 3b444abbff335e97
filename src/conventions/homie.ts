import { ignored, isObject, own, ownString, parseJson, rejected, underBase } from './json.js';
import { applyRule, metricOf, type ValueRule } from './readings.js';
import type { Convention, ConventionOutcome, DeviceFlag, DiscoveredDevice, DiscoveredMetric, Interpretation } from './types.js';

export interface HomieProperty {
  datatype?: string;
  unit?: string;
  format?: string;
  name?: string;
}

export interface HomieDevice {
  id: string;
  version: 4 | 5;
  name?: string;
  nodes: string[];
  /** Per node, its property ids ($properties in v4, $description in v5). */
  properties: Record<string, string[]>;
  /** Keyed by `node/property`. */
  attributes: Record<string, HomieProperty>;
  nodeTypes: Record<string, string>;
}

export interface HomieState {
  devices: Map<string, HomieDevice>;
}

const ID = /^[a-z0-9][a-z0-9-]*$/; // [Homie] topic ids: lowercase a-z, 0-9 and hyphens

const snake = (id: string) => id.replace(/-/g, '_');

/** Node ids such as `constructor` are valid Homie ids: look them up as own keys only. */
const propsOf = (d: HomieDevice, node: string): string[] => (Object.hasOwn(d.properties, node) ? d.properties[node]! : []);

function ruleOf(node: string, prop: string, a: HomieProperty): { rule?: ValueRule; range?: { min?: number; max?: number }; values?: string[]; flag?: DeviceFlag } {
  const component = snake(node);
  const metricName = snake(prop);
  switch (a.datatype) {
    case 'integer':
    case 'float': {
      const rule: ValueRule = { metric: metricName, component, type: 'number' };
      if (a.unit) rule.declaredUnit = a.unit;
      const m = a.format ? /^(-?\d+(?:\.\d+)?)?:(-?\d+(?:\.\d+)?)?(?::\d+(?:\.\d+)?)?$/.exec(a.format) : null;
      const range: { min?: number; max?: number } = {};
      if (m?.[1] !== undefined) range.min = Number(m[1]);
      if (m?.[2] !== undefined) range.max = Number(m[2]);
      return { rule, range };
    }
    case 'boolean': {
      // A boolean `power`/`on`/`switch` property is the relay or lamp state.
      const metric = ['power', 'on', 'switch', 'state'].includes(prop) ? 'on' : metricName;
      return { rule: { metric, component, type: 'boolean', on: 'true', off: 'false' } };
    }
    case 'enum': {
      const values = (a.format ?? '').split(',').filter((v) => v !== '');
      return { rule: { metric: metricName, component, type: 'enum' }, values };
    }
    case undefined:
      return {};
    default:
      // [PRIV] free text (string, json) is not kept; colour and time types need their own mapping.
      return { flag: { code: 'unsupported_component', detail: `${node}/${prop}: datatype ${a.datatype} is not read` } };
  }
}

function kindOf(d: HomieDevice, metrics: DiscoveredMetric[]): string {
  const has = (m: string) => metrics.some((x) => x.metric === m);
  const types = [...d.nodes, ...Object.values(d.nodeTypes)].join(' ').toLowerCase();
  if (has('on') && (has('brightness') || types.includes('light'))) return 'light';
  if (has('on')) return 'smart_plug';
  if (has('open')) return 'contact_sensor';
  return 'sensor';
}

export function homieDescribe(d: HomieDevice): DiscoveredDevice {
  const metrics: DiscoveredMetric[] = [];
  const flags: DeviceFlag[] = [];
  for (const node of d.nodes) {
    for (const prop of propsOf(d, node)) {
      const a = d.attributes[`${node}/${prop}`];
      if (!a) continue;
      const r = ruleOf(node, prop, a);
      if (r.flag) flags.push(r.flag);
      if (r.rule) metrics.push(metricOf(r.rule, r.range, r.values ? { values: r.values } : {}));
    }
  }
  return { key: d.id, name: d.name ?? d.id, kind: kindOf(d, metrics), metrics, flags };
}

function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => ID.test(s));
}

/** v5 `$description`: the whole device at once. */
function fromDescription(id: string, desc: unknown): HomieDevice | undefined {
  if (!isObject(desc)) return undefined;
  const nodes = own(desc, 'nodes');
  if (!isObject(nodes)) return undefined;
  const d: HomieDevice = { id, version: 5, nodes: [], properties: {}, attributes: {}, nodeTypes: {} };
  const name = ownString(desc, 'name');
  if (name) d.name = name;
  for (const node of Object.keys(nodes)) {
    if (!ID.test(node)) continue;
    d.nodes.push(node);
    const type = ownString(nodes[node], 'type');
    if (type) d.nodeTypes[node] = type;
    const props = own(nodes[node], 'properties');
    d.properties[node] = [];
    for (const prop of isObject(props) ? Object.keys(props) : []) {
      if (!ID.test(prop)) continue;
      d.properties[node]!.push(prop);
      const p = props as Record<string, unknown>;
      const a: HomieProperty = {};
      for (const k of ['datatype', 'unit', 'format', 'name'] as const) {
        const v = ownString(p[prop], k);
        if (v !== undefined) a[k] = v;
      }
      d.attributes[`${node}/${prop}`] = a;
    }
  }
  return d;
}

function interpret(state: HomieState, ctx: { base: string }, topic: string, payload: Buffer): Interpretation<HomieState> {
  const one = (o: ConventionOutcome): Interpretation<HomieState> => ({ state, outcomes: [o] });
  const rest = underBase(ctx.base, topic);
  if (rest === undefined) return one(ignored('outside the bridge base topic'));
  let parts = rest.split('/');
  const version: 4 | 5 = parts[0] === '5' ? 5 : 4;
  if (version === 5) parts = parts.slice(1);
  const [id, ...path] = parts;
  if (!id || !ID.test(id) || path.length === 0) return one(ignored('not a Homie device topic'));
  const text = payload.toString('utf8');
  const prev = state.devices.get(id);
  const base: HomieDevice = prev ?? { id, version, nodes: [], properties: {}, attributes: {}, nodeTypes: {} };
  const save = (d: HomieDevice, announce: boolean): Interpretation<HomieState> => {
    const devices = new Map(state.devices).set(id, d);
    return { state: { devices }, outcomes: [announce ? { kind: 'devices', devices: [homieDescribe(d)], removed: [] } : ignored('device attribute recorded')] };
  };
  if (path.length === 1 && path[0] === '$state') {
    // [Homie] $state lost is the last will; ready (and alert) mean it is reporting.
    if (text === 'ready' || text === 'alert') return one({ kind: 'availability', deviceKey: id, online: true });
    if (text === 'lost' || text === 'disconnected') return one({ kind: 'availability', deviceKey: id, online: false });
    if (text === 'init' || text === 'sleeping') return one(ignored(`$state ${text}`));
    if (text === '' && prev) {
      // An empty retained $state removes the device.
      const devices = new Map(state.devices);
      devices.delete(id);
      return { state: { devices }, outcomes: [{ kind: 'devices', devices: [], removed: [id] }] };
    }
    return one(rejected('malformed', `$state: ${JSON.stringify(text)} is not a Homie state`));
  }
  if (version === 5 && path.length === 1 && path[0] === '$description') {
    const p = parseJson(payload);
    if (!p.ok) return one(rejected('not_json', `$description: ${p.message}`));
    const d = fromDescription(id, p.value);
    if (!d) return one(rejected('malformed', '$description needs an object with nodes'));
    return save(d, true);
  }
  if (path.length === 1 && path[0]!.startsWith('$')) {
    if (path[0] === '$name') return save({ ...base, name: text }, base.nodes.length > 0);
    if (path[0] === '$nodes') return save({ ...base, version, nodes: splitList(text) }, true);
    return save(base, false);
  }
  const node = path[0]!;
  if (path.length === 2 && path[1] === '$properties') return save({ ...base, properties: { ...base.properties, [node]: splitList(text) } }, true);
  if (path.length === 2 && path[1] === '$type') return save({ ...base, nodeTypes: { ...base.nodeTypes, [node]: text } }, false);
  if (path.length === 2 && path[1]!.startsWith('$')) return save(base, false);
  const prop = path[1]!;
  const key = `${node}/${prop}`;
  if (path.length === 3 && path[2]!.startsWith('$')) {
    const attr = path[2]!.slice(1);
    if (attr !== 'datatype' && attr !== 'unit' && attr !== 'format' && attr !== 'name') return save(base, false);
    const a: HomieProperty = { ...(Object.hasOwn(base.attributes, key) ? base.attributes[key] : {}), [attr]: text };
    return save({ ...base, attributes: { ...base.attributes, [key]: a } }, attr !== 'name');
  }
  if (path.length !== 2) return one(ignored('a /set command or $target: not a reading'));
  if (!prev || !Object.hasOwn(prev.attributes, key) || !propsOf(prev, node).includes(prop)) return one(ignored('property not described yet'));
  const r = ruleOf(node, prop, prev.attributes[key]!);
  if (!r.rule) return one(ignored(`${key} is not read`));
  const res = applyRule(r.rule, r.rule.type === 'enum' || r.rule.type === 'boolean' ? text : text.trim());
  return one({ kind: 'readings', deviceKey: id, readings: res.ok ? [res.reading] : [], notes: res.ok ? [] : [res.note] });
}

/** Homie v4 (attributes one by one) and v5 (`$description`), under `homie/` and `homie/5/`. */
export const homie: Convention<HomieState> = {
  name: 'homie',
  defaultBaseTopic: 'homie',
  initialState: () => ({ devices: new Map() }),
  subscriptions: (base) => [`${base}/#`],
  interpret: (state, ctx, topic, payload) => interpret(state, ctx, topic, payload),
};
