import type { DeviceProfile, MetricSpec } from '../devices/index.js';
import { resolveTimestamp } from './time.js';
import type { IngestLimits, IngestOutcome, Reading, ReadingValue, RefusedMetric } from './types.js';

export interface NativeMessage {
  deviceId: string;
  /** The topic below `sluice/<deviceId>/`, e.g. `telemetry` or `status`. */
  subtopic: string;
  payload: Buffer;
  receivedAt: number;
  profile: DeviceProfile | undefined;
  limits: IngestLimits;
}

/**
 * Turns one message of the native convention into readings, or a reason to refuse it. Pure:
 * the caller supplies the receive time, the profile and the limits. Valid metrics of a
 * partly bad message are kept and the bad ones listed in `refused`.
 */
export function interpretNative(msg: NativeMessage): IngestOutcome {
  if (msg.payload.length > msg.limits.maxPayloadBytes) {
    return { kind: 'rejected', reason: 'too_large', message: `payload is ${msg.payload.length} bytes; the limit is ${msg.limits.maxPayloadBytes}` };
  }
  if (msg.subtopic === 'status') return interpretStatus(msg.payload);
  if (msg.subtopic !== 'telemetry') {
    return { kind: 'rejected', reason: 'unknown_topic', message: `sluice/${msg.deviceId}/${msg.subtopic} is not a Sluice topic; devices publish to sluice/${msg.deviceId}/telemetry and sluice/${msg.deviceId}/status` };
  }
  if (!msg.profile) return { kind: 'rejected', reason: 'no_profile', message: `device "${msg.deviceId}" has no loadable profile` };

  let body: unknown;
  try {
    body = JSON.parse(msg.payload.toString('utf8'));
  } catch (err) {
    return { kind: 'rejected', reason: 'not_json', message: `payload is not JSON: ${(err as Error).message}` };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { kind: 'rejected', reason: 'not_object', message: `payload must be a JSON object of metric → value, got ${Array.isArray(body) ? 'an array' : typeof body}` };
  }
  const fields = body as Record<string, unknown>;
  const time = resolveTimestamp(fields.ts, msg.receivedAt);
  if (time.ts > msg.receivedAt + msg.limits.maxFuture) {
    return { kind: 'rejected', reason: 'ts_too_far_future', message: `ts ${new Date(time.ts).toISOString()} is more than ${msg.limits.maxFuture} ms ahead of the gateway clock` };
  }
  if (time.ts < msg.receivedAt - msg.limits.maxPast) {
    return { kind: 'rejected', reason: 'ts_too_far_past', message: `ts ${new Date(time.ts).toISOString()} is more than ${msg.limits.maxPast} ms behind the gateway clock` };
  }

  const readings: Reading[] = [];
  const refused: RefusedMetric[] = [];
  let accepted = 0;
  for (const [metric, raw] of Object.entries(fields)) {
    if (metric === 'ts') continue;
    const spec = msg.profile.metrics[metric];
    if (!spec) {
      refused.push({ metric, reason: 'unknown_metric', message: `"${metric}" is not a metric of profile ${msg.profile.name}` });
      continue;
    }
    const checked = checkValue(metric, spec, raw);
    if ('reason' in checked) {
      refused.push(checked);
      continue;
    }
    accepted++;
    // [PRIV-2] a never-stored metric is validated, then forgotten.
    if (!spec.never_store) readings.push({ metric, component: '', value: checked.value, ts: time.ts, timeSource: time.timeSource });
  }
  if (accepted === 0 && refused.length === 0) {
    return { kind: 'rejected', reason: 'no_metrics', message: 'payload holds no metric' };
  }
  if (accepted === 0) {
    const first = refused[0]!;
    return { kind: 'rejected', reason: first.reason, message: refused.map((r) => `${r.metric}: ${r.message}`).join('; '), refused };
  }
  return { kind: 'readings', readings, refused, ts: time.ts, timeSource: time.timeSource };
}

function interpretStatus(payload: Buffer): IngestOutcome {
  const text = payload.toString('utf8').trim().toLowerCase();
  if (text === 'online') return { kind: 'status', online: true };
  if (text === 'offline' || text === '') return { kind: 'status', online: false };
  return { kind: 'rejected', reason: 'wrong_type', message: `status must be "online" or "offline"` };
}

/** Checks one metric's value against its spec: type, finiteness, range, enum membership. */
export function checkValue(metric: string, spec: MetricSpec, raw: unknown): { value: ReadingValue } | RefusedMetric {
  switch (spec.type) {
    case 'number': {
      if (typeof raw !== 'number') return { metric, reason: 'wrong_type', message: `expected a number, got ${describe(raw)}` };
      if (!Number.isFinite(raw)) return { metric, reason: 'not_finite', message: `expected a finite number` };
      if ((spec.min !== undefined && raw < spec.min) || (spec.max !== undefined && raw > spec.max)) {
        return { metric, reason: 'out_of_range', message: `${raw} ${spec.unit} is outside ${spec.min ?? '-∞'}…${spec.max ?? '∞'}` };
      }
      return { value: raw };
    }
    case 'boolean':
      if (typeof raw !== 'boolean') return { metric, reason: 'wrong_type', message: `expected true or false, got ${describe(raw)}` };
      return { value: raw };
    case 'enum':
      if (typeof raw !== 'string' || !spec.values.includes(raw)) {
        return { metric, reason: 'wrong_type', message: `expected one of ${spec.values.join(', ')}, got ${describe(raw)}` };
      }
      return { value: raw };
  }
}

function describe(raw: unknown): string {
  if (raw === null) return 'null';
  if (typeof raw === 'string') return `"${raw.length > 40 ? `${raw.slice(0, 40)}…` : raw}"`;
  if (typeof raw === 'object') return Array.isArray(raw) ? 'an array' : 'an object';
  return String(raw);
}
