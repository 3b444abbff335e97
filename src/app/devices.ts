import { z } from 'zod';
import { SluiceError, parseSince } from '../core/index.js';
import { ROLES, type DeviceRecord, type Role } from '../devices/index.js';
import { defineOperation, flag, noParams, optionalText, params, requiredText } from './operation.js';

/** A registered device as the admin operations show it. */
export interface DeviceRow {
  id: string;
  role: Role;
  profile: string | null;
  base_topic: string | null;
  simulated: boolean;
  via: string | null;
  source: string | null;
  created_at: string;
}

/** A device's MQTT credentials, shown once; `password` is null for a device behind a bridge. */
export interface DeviceCredentials {
  id: string;
  username: string;
  password: string | null;
  role: Role;
  via?: string | null;
  source?: string | null;
}

function describeDevice(d: DeviceRecord): DeviceRow {
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

const isRole = (v: string): v is Role => (ROLES as readonly string[]).includes(v);

const deviceId = params({ id: requiredText('device id') });

/** The device registry and what devices sent: add, list, show, remove, passwd, readings, quarantine. */
export const deviceOperations = {
  'devices.add': defineOperation({
    params: params({
      id: requiredText('device id'),
      role: optionalText('role').transform((v, c) => {
        const role = v ?? 'device';
        if (isRole(role)) return role;
        c.addIssue({ code: 'custom', message: `--role must be one of ${ROLES.join(', ')}; got "${role}"` });
        return z.NEVER;
      }),
      profile: optionalText('profile'),
      baseTopic: optionalText('base topic'),
      simulated: flag('simulated'),
      via: optionalText('--via'),
      source: optionalText('--source'),
    }),
    run: async ({ context: ctx }, p): Promise<DeviceCredentials> => {
      const { record, password } = await ctx.registry.add({
        id: p.id,
        role: p.role,
        profile: p.profile ?? null,
        baseTopic: p.baseTopic ?? null,
        simulated: p.simulated,
        via: p.via ?? null,
        source: p.source ?? null,
      });
      ctx.events.emit('device.changed', { deviceId: record.id, change: 'added' });
      return { id: record.id, username: record.id, password, role: record.role, ...(record.via ? { via: record.via, source: record.source } : {}) };
    },
  }),
  'devices.list': defineOperation({
    params: noParams,
    run: ({ context: ctx }): DeviceRow[] => ctx.registry.list().map(describeDevice),
  }),
  'devices.show': defineOperation({
    params: deviceId,
    run: ({ context: ctx }, { id }) => {
      const record = ctx.registry.get(id);
      if (!record) throw new SluiceError('SLUICE_ERR_DEVICE_UNKNOWN', `no device "${id}" is registered`);
      const latest = ctx.queries.latest(id);
      return { ...describeDevice(record), latest: latest.map((r) => ({ metric: r.metric, component: r.component, value: r.value, unit: r.unit, ts: new Date(r.ts).toISOString() })) };
    },
  }),
  'devices.remove': defineOperation({
    params: deviceId,
    run: ({ context: ctx }, { id }) => {
      const record = ctx.registry.remove(id);
      ctx.events.emit('device.changed', { deviceId: record.id, change: 'removed' });
      return { id: record.id, removed: true as const };
    },
  }),
  'devices.passwd': defineOperation({
    params: deviceId,
    run: async ({ context: ctx }, { id }) => {
      const { record, password } = await ctx.registry.passwd(id);
      ctx.events.emit('device.changed', { deviceId: record.id, change: 'passwd' });
      return { id: record.id, username: record.id, password, role: record.role };
    },
  }),
  readings: defineOperation({
    params: params({
      id: requiredText('device id'),
      metric: optionalText('--metric'),
      since: optionalText('--since'),
      limit: z.number({ error: 'limit must be a number' }).int({ error: 'limit must be a whole number' }).positive({ error: 'limit must be positive' }).default(10_000),
    }),
    run: ({ context: ctx }, p) => {
      if (!ctx.registry.get(p.id)) throw new SluiceError('SLUICE_ERR_DEVICE_UNKNOWN', `no device "${p.id}" is registered`);
      const now = ctx.clock.now();
      const rows = ctx.queries.readings({
        deviceId: p.id,
        metric: p.metric,
        since: p.since === undefined ? now - 3_600_000 : parseSince(p.since, now),
        limit: p.limit,
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
  }),
  quarantine: defineOperation({
    params: params({ device: optionalText('--device') }),
    run: ({ context: ctx }, p) =>
      ctx.queries.quarantine({ deviceId: p.device }).map((q) => ({
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
  }),
};
