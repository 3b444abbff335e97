import { topicMatches } from '../core/index.js';
export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Own-property lookup only: `__proto__`, `constructor` and `toString` arrive from devices. */
export function own(obj: unknown, key: string): unknown {
  return isObject(obj) && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

export function ownString(obj: unknown, key: string): string | undefined {
  const v = own(obj, key);
  return typeof v === 'string' ? v : undefined;
}

export function ownNumber(obj: unknown, key: string): number | undefined {
  const v = own(obj, key);
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export type Parsed = { ok: true; value: unknown } | { ok: false; message: string };

export function parseJson(payload: Buffer): Parsed {
  try {
    return { ok: true, value: JSON.parse(payload.toString('utf8')) as unknown };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : 'not JSON' };
  }
}

/** Own enumerable entries; the value of an own `__proto__` key is its data, not the prototype. */
export function ownEntries(obj: unknown): [string, unknown][] {
  return isObject(obj) ? Object.keys(obj).map((k) => [k, obj[k]]) : [];
}

export function rejected(reason: 'not_json' | 'not_object' | 'malformed' | 'outside_namespace', message: string) {
  return { kind: 'rejected' as const, reason, message };
}

export function ignored(why: string) {
  return { kind: 'ignored' as const, why };
}


export function inNamespace(namespace: readonly string[], topic: string): boolean {
  return namespace.some((f) => topicMatches(f, topic));
}

/** Strips a base and the following '/'; undefined when the topic is not under the base. */
export function underBase(base: string, topic: string): string | undefined {
  if (base === '') return topic;
  return topic.startsWith(`${base}/`) ? topic.slice(base.length + 1) : undefined;
}
