import { bridgeNamespace, isConvention, type DeviceRecord, type DeviceRegistry } from '../devices/index.js';
import { topicMatches } from '../core/index.js';

/** Who a message on a topic belongs to, for ingest: a device in its own namespace, or a bridge and (maybe) the device behind it. */
export type TopicRoute = { kind: 'device'; device: DeviceRecord } | BridgeRoute;

export interface BridgeRoute {
  kind: 'bridge';
  bridge: DeviceRecord;
  behind: { record: DeviceRecord; subtopic: string } | undefined;
}

type Registry = Pick<DeviceRegistry, 'get' | 'list' | 'behindBridge'>;

/** The route of a publish by a known bridge (the embedded broker knows the publisher from its login). */
export function bridgeRoute(registry: Registry, bridge: DeviceRecord, topic: string): BridgeRoute {
  const base = bridge.baseTopic ?? bridge.id;
  // A convention bridge's devices are found by its interpreter; only a plain bridge has hand-registered ones.
  const behind = !isConvention(bridge.profile) && topic.length > base.length ? registry.behindBridge(bridge.id, topic.slice(base.length + 1)) : undefined;
  return { kind: 'bridge', bridge, behind };
}

/**
 * The route of a publish whose sender is unknown (an external broker authenticated it, not
 * Sluice): `sluice/<id>/…` is the device `<id>`; a topic in a bridge's namespace is that
 * bridge (the longest base wins). Anything else is the household's own bus and not ingested.
 */
export function routeTopic(registry: Registry, topic: string): TopicRoute | undefined {
  const native = /^sluice\/([^/]+)\/./.exec(topic);
  if (native) {
    const device = registry.get(native[1]!);
    if (device?.role === 'device') return { kind: 'device', device };
  }
  let best: DeviceRecord | undefined;
  for (const d of registry.list()) {
    if (d.role !== 'bridge') continue;
    const base = d.baseTopic ?? d.id;
    const inNamespace = topic === base || bridgeNamespace(d).some((filter) => topicMatches(filter, topic));
    if (inNamespace && (!best || base.length > (best.baseTopic ?? best.id).length)) best = d;
  }
  return best ? bridgeRoute(registry, best, topic) : undefined;
}
