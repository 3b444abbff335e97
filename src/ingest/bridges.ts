import { BridgeInterpreter, conventions, type ConventionOutcome, type DiscoveredDevice } from '../conventions/index.js';
import { bridgeNamespace, isConvention, type DeviceRecord, type DeviceProfile } from '../devices/index.js';
import type { Reading, RefusedMetric } from './types.js';
import { checkValue } from './values.js';

/** What the bridge reader needs of the registry: discovered devices and each bridge's learned state. */
export interface BridgeDirectory {
  learn(bridge: DeviceRecord, devices: readonly DiscoveredDevice[]): DeviceRecord[];
  forget(bridgeId: string, key: string): DeviceRecord | undefined;
  discoveredBy(bridgeId: string, key: string): DeviceRecord | undefined;
  bridgeState(bridgeId: string): string | undefined;
  saveBridgeState(bridgeId: string, state: string): void;
}

/** One device's share of a bridge message, ready for the sink. */
export interface BridgeReadings {
  device: DeviceRecord;
  readings: Reading[];
  /** Gateway time still to be assigned (the device's own time was absent or unusable). */
  needsTime: boolean;
  refused: RefusedMetric[];
  /** Why the device's own time was not used, for the maker. */
  timeNote?: string;
}

/** What one bridge message meant, after the registry has learned from it. */
export interface BridgeResult {
  readings: BridgeReadings[];
  status: { device: DeviceRecord; online: boolean }[];
  rejected?: { reason: 'not_json' | 'not_object' | 'malformed' | 'outside_namespace'; message: string };
  added: DeviceRecord[];
  removed: DeviceRecord[];
  /** Forms of the announcements the gateway could not use, per device key, for the maker. */
  flags: { key: string; deviceId: string; code: string; detail: string }[];
}

// Maps in convention state survive JSON as tagged entry lists.
function replacer(_k: string, v: unknown): unknown {
  return v instanceof Map ? { $map: [...v.entries()] } : v;
}
function reviver(_k: string, v: unknown): unknown {
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.hasOwn(v, '$map') && Object.keys(v).length === 1) {
    return new Map((v as { $map: [unknown, unknown][] }).$map);
  }
  return v;
}

/**
 * Reads convention bridges' messages: one interpreter per bridge, its state restored from the
 * registry at first use (so readings after a restart are understood before the retained device
 * list comes back) and saved whenever the bridge's devices change.
 */
export class BridgeReader {
  private readonly interpreters = new Map<string, { createdAt: number; interpreter: BridgeInterpreter }>();

  constructor(private readonly deps: { directory: BridgeDirectory; profiles: () => ReadonlyMap<string, DeviceProfile> }) {}

  handles(bridge: DeviceRecord): boolean {
    return isConvention(bridge.profile);
  }

  read(bridge: DeviceRecord, topic: string, payload: Buffer, now: number, window: { maxFuture: number; maxPast: number } = { maxFuture: Infinity, maxPast: Infinity }): BridgeResult {
    const interpreter = this.interpreterOf(bridge);
    const ctx = { base: bridge.baseTopic ?? conventions[interpreter.name].defaultBaseTopic, namespace: bridgeNamespace(bridge) };
    const outcomes = interpreter.interpret(ctx, topic, payload, now);
    const result: BridgeResult = { readings: [], status: [], added: [], removed: [], flags: [] };
    let learned = false;
    for (const o of outcomes) {
      if (o.kind === 'devices') {
        learned = true;
        const added = this.deps.directory.learn(bridge, o.devices);
        result.added.push(...added);
        for (const d of o.devices) {
          const device = this.deps.directory.discoveredBy(bridge.id, d.key);
          if (device) for (const f of d.flags) result.flags.push({ key: d.key, deviceId: device.id, ...f });
        }
        for (const key of o.removed) {
          const gone = this.deps.directory.forget(bridge.id, key);
          if (gone) result.removed.push(gone);
        }
      } else if (o.kind === 'readings') {
        const r = this.readingsOf(bridge, o, now, window);
        if (r) result.readings.push(r);
      } else if (o.kind === 'availability') {
        const device = this.deps.directory.discoveredBy(bridge.id, o.deviceKey);
        if (device) result.status.push({ device, online: o.online });
      } else if (o.kind === 'rejected') {
        result.rejected = { reason: o.reason, message: o.message };
      }
    }
    if (learned) this.deps.directory.saveBridgeState(bridge.id, JSON.stringify(interpreter.state, replacer));
    return result;
  }

  /** Drops a removed bridge's interpreter. */
  release(bridgeId: string): void {
    this.interpreters.delete(bridgeId);
  }

  private interpreterOf(bridge: DeviceRecord): BridgeInterpreter {
    const known = this.interpreters.get(bridge.id);
    // A bridge removed and registered again under the same id starts from what it says anew.
    if (known && known.createdAt === bridge.createdAt) return known.interpreter;
    const name = bridge.profile as keyof typeof conventions;
    const interpreter = new BridgeInterpreter(name);
    const saved = this.deps.directory.bridgeState(bridge.id);
    if (saved !== undefined) {
      try {
        interpreter.restore(JSON.parse(saved, reviver) as never);
      } catch {
        // A damaged saved state is relearned from the bridge's retained announcements.
      }
    }
    this.interpreters.set(bridge.id, { createdAt: bridge.createdAt, interpreter });
    return interpreter;
  }

  private readingsOf(bridge: DeviceRecord, o: Extract<ConventionOutcome, { kind: 'readings' }>, now: number, window: { maxFuture: number; maxPast: number }): BridgeReadings | undefined {
    const device = this.deps.directory.discoveredBy(bridge.id, o.deviceKey);
    // An ignored (or not yet announced) device: nothing of it is stored.
    if (!device || !device.profile) return undefined;
    const profile = this.deps.profiles().get(device.profile);
    const refused: RefusedMetric[] = o.notes.map((n) => ({ metric: n.split(':')[0] ?? '', reason: 'wrong_type' as const, message: n }));
    const readings: Reading[] = [];
    let ts: number | undefined;
    let timeNote: string | undefined;
    for (const r of o.readings) {
      const name = r.component ? `${r.component}.${r.metric}` : r.metric;
      const spec = profile && Object.hasOwn(profile.metrics, r.metric) ? profile.metrics[r.metric]! : undefined;
      if (!spec) {
        refused.push({ metric: name, reason: 'unknown_metric', message: `"${name}" was not announced by the bridge` });
        continue;
      }
      const declared = device.metrics?.find((m) => m.metric === r.metric);
      const anyText = spec.type === 'enum' && !(declared?.values && declared.values.length > 0);
      const checked = anyText && typeof r.value === 'string' ? { value: r.value } : checkValue(name, spec, r.value);
      if ('reason' in checked) {
        refused.push(checked);
        continue;
      }
      if (r.ts !== undefined && (r.ts > now + window.maxFuture || r.ts < now - window.maxPast)) {
        const ahead = r.ts > now;
        refused.push({ metric: name, reason: ahead ? 'ts_too_far_future' : 'ts_too_far_past', message: `${name}: ts ${new Date(r.ts).toISOString()} is too far ${ahead ? 'ahead of' : 'behind'} the gateway clock` });
        continue;
      }
      if (r.ts !== undefined) ts = r.ts;
      if (r.tsNote !== undefined) timeNote = r.tsNote;
      readings.push({ metric: r.metric, component: r.component, value: checked.value, ts: r.ts ?? now, timeSource: r.ts !== undefined ? 'device' : 'gateway' });
    }
    const out: BridgeReadings = { device, readings, needsTime: ts === undefined, refused };
    if (timeNote !== undefined) out.timeNote = timeNote;
    return out;
  }
}
