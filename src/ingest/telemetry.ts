import { ownValue } from '../core/index.js';
import type { DeviceProfile } from '../devices/index.js';
import { findMapping, substitute, valueAt, type MatchedMapping } from './mapping.js';
import { resolveTimestamp } from './time.js';
import type { IngestLimits, IngestOutcome, Reading, ReadingValue, RefusedMetric, TimeSource } from './types.js';
import { applyRule, checkValue, valueRefusal } from './values.js';

export interface DeviceMessage {
  deviceId: string;
  /**
   * The topic below the device's root: below `sluice/<deviceId>/` for a device that connects
   * itself (`telemetry`, `status`), below `<base>/<source>` for a device behind a bridge ('' for
   * the root itself).
   */
  subtopic: string;
  /** Full topic, for messages. */
  topic?: string;
  payload: Buffer;
  receivedAt: number;
  profile: DeviceProfile | undefined;
  limits: IngestLimits;
  /** True for a device behind a bridge: only its profile's mappings apply, no native topics. */
  viaBridge?: boolean;
}

/**
 * Turns one device message into readings, or a reason to refuse it. Pure: the caller supplies
 * the receive time, the profile and the limits. Valid metrics of a partly bad message are kept
 * and the bad ones listed in `refused`.
 */
export function interpretMessage(msg: DeviceMessage): IngestOutcome {
  if (msg.payload.length > msg.limits.maxPayloadBytes) {
    return { kind: 'rejected', reason: 'too_large', message: `payload is ${msg.payload.length} bytes; the limit is ${msg.limits.maxPayloadBytes}` };
  }
  const topicText = msg.topic ?? `sluice/${msg.deviceId}/${msg.subtopic}`;
  if (!msg.profile) {
    if (!msg.viaBridge && msg.subtopic === 'status') return interpretStatus(msg.payload, undefined);
    return { kind: 'rejected', reason: 'no_profile', message: `device "${msg.deviceId}" has no loadable profile` };
  }
  const matched: MatchedMapping | undefined = msg.profile.mappings ? findMapping(msg.profile, msg.subtopic) : undefined;
  if (!matched) {
    if (!msg.viaBridge && msg.subtopic === 'status') return interpretStatus(msg.payload, undefined);
    if (!msg.profile.mappings && msg.subtopic === 'telemetry') return interpretNative(msg);
    return {
      kind: 'rejected',
      reason: 'unknown_topic',
      message: msg.viaBridge
        ? `${topicText} matches no topic of profile ${msg.profile.name}`
        : `${topicText} is not a topic of profile ${msg.profile.name}; devices publish to sluice/${msg.deviceId}/telemetry and sluice/${msg.deviceId}/status`,
    };
  }
  const { rule } = matched;
  if (rule.ignore) return { kind: 'ignored' };
  if (rule.status) return interpretStatus(msg.payload, rule.status);
  return interpretMapped(msg, matched);
}

/** A message of the native convention: a JSON object of metric → value (components nested). */
function interpretNative(msg: DeviceMessage): IngestOutcome {
  const parsed = parseObject(msg.payload);
  if ('kind' in parsed) return parsed;
  const fields = parsed.body;
  const time = checkTime(fields.ts, msg);
  if ('kind' in time) return time;

  const profile = msg.profile!;
  const components = profile.components;
  const readings: Reading[] = [];
  const refused: RefusedMetric[] = [];
  let accepted = 0;
  // Own keys in payload order (what Object.entries gives), each metric checked as it comes:
  // no list of pairs or of found metrics per message.
  for (const key of Object.keys(fields)) {
    if (key === 'ts') continue;
    const raw = fields[key];
    // A fridge reports its parts as nested objects: {"cooler": {"temperature": 4.1}, "freezer": {…}}.
    if (components !== undefined && components.includes(key) && typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
      const parts = raw as Record<string, unknown>;
      for (const metric of Object.keys(parts)) accepted += nativeMetric(profile, metric, key, parts[metric], time, readings, refused);
    } else {
      accepted += nativeMetric(profile, key, '', raw, time, readings, refused);
    }
  }
  return finish(readings, refused, accepted, time);
}

/** Checks one metric of a native message into readings or refused; 1 when it was accepted. */
function nativeMetric(profile: DeviceProfile, metric: string, component: string, raw: unknown, time: { ts: number; timeSource: TimeSource }, readings: Reading[], refused: RefusedMetric[]): number {
  const name = component ? `${component}.${metric}` : metric;
  const spec = ownValue(profile.metrics, metric);
  if (!spec) {
    refused.push({ metric: name, reason: 'unknown_metric', message: `"${name}" is not a metric of profile ${profile.name}` });
    return 0;
  }
  const refusal = valueRefusal(name, spec, raw);
  if (refusal) {
    refused.push(refusal);
    return 0;
  }
  // [PRIV-2] a never-stored metric is validated, then forgotten.
  if (!spec.never_store) readings.push({ metric, component, value: raw as ReadingValue, ts: time.ts, timeSource: time.timeSource });
  return 1;
}

function interpretMapped(msg: DeviceMessage, { rule, captures }: MatchedMapping): IngestOutcome {
  const profile = msg.profile!;
  let body: unknown;
  if (rule.format === 'json') {
    const parsed = parseObject(msg.payload);
    if ('kind' in parsed) return parsed;
    body = parsed.body;
  } else {
    body = msg.payload.toString('utf8');
  }
  const time = checkTime(rule.format === 'json' && rule.time ? valueAt(body, rule.time) : undefined, msg);
  if ('kind' in time) return time;

  const components = new Set(profile.components ?? []);
  const readings: Reading[] = [];
  const refused: RefusedMetric[] = [];
  let accepted = 0;
  for (const r of rule.readings ?? []) {
    const raw = r.path === undefined ? body : valueAt(body, substitute(r.path, captures));
    // A missing field is no error: conventions send partial updates (Shelly NotifyStatus).
    if (raw === undefined) continue;
    const component = r.component === undefined ? '' : substitute(r.component, captures);
    const name = component ? `${component}.${r.metric}` : r.metric;
    if (component && !components.has(component)) {
      refused.push({ metric: name, reason: 'unknown_component', message: `"${component}" is not a component of profile ${profile.name} (${[...components].join(', ') || 'none'})` });
      continue;
    }
    // The profile's schema checked that each mapping's metric is declared.
    const spec = ownValue(profile.metrics, r.metric)!;
    const converted = applyRule(r, spec, raw, rule.format === 'text');
    const checked = 'reason' in converted ? { ...converted, metric: name } : checkValue(name, spec, converted.value);
    if ('reason' in checked) {
      refused.push(checked);
      continue;
    }
    accepted++;
    // [PRIV-2] a never-stored metric is validated, then forgotten.
    if (!spec.never_store) readings.push({ metric: r.metric, component, value: checked.value, ts: time.ts, timeSource: time.timeSource });
  }
  if (accepted === 0 && refused.length === 0 && rule.skip_empty) return { kind: 'ignored' };
  return finish(readings, refused, accepted, time);
}

function finish(readings: Reading[], refused: RefusedMetric[], accepted: number, time: { ts: number; timeSource: TimeSource; note?: string }): IngestOutcome {
  if (accepted === 0 && refused.length === 0) return { kind: 'rejected', reason: 'no_metrics', message: 'payload holds no metric of the profile' };
  if (accepted === 0) {
    const first = refused[0]!;
    return { kind: 'rejected', reason: first.reason, message: refused.map((r) => `${r.metric}: ${r.message}`).join('; '), refused };
  }
  const out: IngestOutcome = { kind: 'readings', readings, refused, ts: time.ts, timeSource: time.timeSource };
  if (time.note !== undefined) out.timeNote = time.note;
  return out;
}

function parseObject(payload: Buffer): { body: Record<string, unknown> } | IngestOutcome {
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return { kind: 'rejected', reason: 'not_json', message: `payload is not JSON: ${(err as Error).message}` };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { kind: 'rejected', reason: 'not_object', message: `payload must be a JSON object, got ${body === null ? 'null' : Array.isArray(body) ? 'an array' : typeof body}` };
  }
  return { body: body as Record<string, unknown> };
}

function checkTime(raw: unknown, msg: DeviceMessage): { ts: number; timeSource: TimeSource; note?: string } | IngestOutcome {
  const time = resolveTimestamp(raw, msg.receivedAt);
  if (time.ts > msg.receivedAt + msg.limits.maxFuture) {
    return { kind: 'rejected', reason: 'ts_too_far_future', message: `ts ${new Date(time.ts).toISOString()} is more than ${msg.limits.maxFuture} ms ahead of the gateway clock` };
  }
  if (time.ts < msg.receivedAt - msg.limits.maxPast) {
    return { kind: 'rejected', reason: 'ts_too_far_past', message: `ts ${new Date(time.ts).toISOString()} is more than ${msg.limits.maxPast} ms behind the gateway clock` };
  }
  return time;
}

function interpretStatus(payload: Buffer, rule: { path?: string | undefined; online: string[]; offline: string[] } | undefined): IngestOutcome {
  let text = payload.toString('utf8').trim();
  if (rule?.path) {
    // Zigbee2MQTT 2.x sends {"state":"online"}, 1.x plain `online`: take the field when there is one.
    try {
      const v = valueAt(JSON.parse(text), rule.path);
      if (typeof v === 'string' || typeof v === 'boolean') text = String(v);
    } catch {
      /* plain text */
    }
  }
  const online = rule?.online ?? ['online'];
  const offline = rule?.offline ?? ['offline', ''];
  const lower = text.toLowerCase();
  if (online.some((s) => s.toLowerCase() === lower)) return { kind: 'status', online: true };
  if (offline.some((s) => s.toLowerCase() === lower) || lower === '') return { kind: 'status', online: false };
  return { kind: 'rejected', reason: 'wrong_type', message: `status must be ${[...online, ...offline].filter(Boolean).map((s) => `"${s}"`).join(' or ')}` };
}
