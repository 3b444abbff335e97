import { SluiceError, parseSince, type AdminOperations } from '../core/index.js';
import { ROLES, type DeviceRecord, type Role } from '../devices/index.js';
import type { StoreFault } from '../store/index.js';
import type { GatewayContext } from './context.js';
import { dataOperations, type DataRuntime } from './operations-data.js';
import { policyOperations } from './operations-policy.js';
import { brokerOperations } from './operations-broker.js';

export interface RuntimeStatus {
  mqttPort: number | null;
  connectedClients: number;
  storeFaulted: boolean;
  storeFault?: StoreFault | undefined;
  startedAt: number;
  /** Broker connections and limit counters (issue 6). */
  broker?: () => Record<string, unknown>;
}

/**
 * The gateway's admin operations. The same table serves the admin socket of a running
 * gateway and a CLI command that opened the data directory itself, so both behave alike.
 */
export function buildOperations(ctx: GatewayContext, runtime?: () => RuntimeStatus, data?: DataRuntime): AdminOperations {
  return {
    ...dataOperations(ctx, data),
    ...policyOperations(ctx),
    ...brokerOperations(ctx, () => runtime?.().broker?.()),
    'devices.add': async (p) => {
      const role = optionalString(p.role, 'role') ?? 'device';
      if (!ROLES.includes(role as Role)) throw new SluiceError('SLUICE_ERR_USAGE', `--role must be one of ${ROLES.join(', ')}; got "${role}"`);
      const { record, password } = await ctx.registry.add({
        id: requireString(p.id, 'device id'),
        role: role as Role,
        profile: optionalString(p.profile, 'profile') ?? null,
        baseTopic: optionalString(p.baseTopic, 'base topic') ?? null,
        simulated: p.simulated === true,
        via: optionalString(p.via, '--via') ?? null,
        source: optionalString(p.source, '--source') ?? null,
      });
      ctx.events.emit('device.changed', { deviceId: record.id, change: 'added' });
      return { id: record.id, username: record.id, password, role: record.role, ...(record.via ? { via: record.via, source: record.source } : {}) };
    },
    'devices.list': () => ctx.registry.list().map(describeDevice),
    'devices.show': (p) => {
      const id = requireString(p.id, 'device id');
      const record = ctx.registry.get(id);
      if (!record) throw new SluiceError('SLUICE_ERR_DEVICE_UNKNOWN', `no device "${id}" is registered`);
      const latest = ctx.queries.latest(id);
      return { ...describeDevice(record), latest: latest.map((r) => ({ metric: r.metric, component: r.component, value: r.value, unit: r.unit, ts: new Date(r.ts).toISOString() })) };
    },
    'devices.remove': (p) => {
      const record = ctx.registry.remove(requireString(p.id, 'device id'));
      ctx.events.emit('device.changed', { deviceId: record.id, change: 'removed' });
      return { id: record.id, removed: true };
    },
    'devices.passwd': async (p) => {
      const { record, password } = await ctx.registry.passwd(requireString(p.id, 'device id'));
      ctx.events.emit('device.changed', { deviceId: record.id, change: 'passwd' });
      return { id: record.id, username: record.id, password, role: record.role };
    },
    readings: (p) => {
      const id = requireString(p.id, 'device id');
      if (!ctx.registry.get(id)) throw new SluiceError('SLUICE_ERR_DEVICE_UNKNOWN', `no device "${id}" is registered`);
      const now = ctx.clock.now();
      const since = optionalString(p.since, '--since');
      const rows = ctx.queries.readings({
        deviceId: id,
        metric: optionalString(p.metric, '--metric'),
        since: since === undefined ? now - 3_600_000 : parseSince(since, now),
        limit: typeof p.limit === 'number' ? p.limit : 10_000,
      });
      return rows.map((r) => ({
        metric: r.metric,
        ...(r.component ? { component: r.component } : {}),
        value: r.value,
        unit: r.unit,
        ts: new Date(r.ts).toISOString(),
        time_source: r.timeSource,
      }));
    },
    quarantine: (p) =>
      ctx.queries.quarantine({ deviceId: optionalString(p.device, '--device') }).map((q) => ({
        topic: q.topic,
        reason: q.reason,
        received_at: new Date(q.receivedAt).toISOString(),
        device: q.deviceId,
        message: q.message,
        refused: q.refused,
        payload_bytes: q.payloadBytes,
        // [PRIV-4] at most the first 256 bytes were kept; shown as text where it is text.
        payload_head: q.payloadHead.toString('utf8'),
      })),
    status: () => {
      const rt = runtime?.();
      return {
        running: rt !== undefined,
        pid: rt ? process.pid : null,
        mqtt_port: rt?.mqttPort ?? null,
        connected_clients: rt?.connectedClients ?? 0,
        store: rt?.storeFaulted ? `faulted (${rt.storeFault?.code ?? 'storage fault'}): acknowledgements held` : 'ok',
        store_fault: rt?.storeFault
          ? `${rt.storeFault.message} since ${new Date(rt.storeFault.since).toISOString()}; ${rt.storeFault.freeBytes === null ? 'free disk unknown' : `${rt.storeFault.freeBytes} bytes free on disk`}`
          : null,
        started_at: rt ? new Date(rt.startedAt).toISOString() : null,
        devices: ctx.registry.list().length,
        data_dir: ctx.config.data_dir,
        ...(rt?.broker ? { broker: rt.broker() } : {}),
      };
    },
  };
}

function describeDevice(d: DeviceRecord) {
  return {
    id: d.id,
    role: d.role,
    profile: d.profile,
    base_topic: d.baseTopic,
    simulated: d.simulated,
    via: d.via,
    source: d.source,
    created_at: new Date(d.createdAt).toISOString(),
  };
}

function requireString(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') throw new SluiceError('SLUICE_ERR_USAGE', `${what} is required`);
  return v;
}

function optionalString(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new SluiceError('SLUICE_ERR_USAGE', `${what} must be text`);
  return v;
}
