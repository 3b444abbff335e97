import { ownValue, setOwn } from '../core/index.js';
import type { DeviceProfile, MappingRule } from '../devices/index.js';

/** A mapping whose topic pattern matched, with the values of its `{name}` placeholders. */
export interface MatchedMapping {
  rule: MappingRule;
  captures: Record<string, string>;
}

/** The first mapping of the profile whose topic pattern matches the topic below the device's root. */
export function findMapping(profile: DeviceProfile, subtopic: string): MatchedMapping | undefined {
  for (const rule of profile.mappings ?? []) {
    const captures = matchTopic(rule.topic, subtopic);
    if (captures) return { rule, captures };
  }
  return undefined;
}

/**
 * Matches a topic against a pattern: `+` one level, `#` the rest (last level only), `{name}`
 * one level (or part of one, as in `switch:{channel}`) captured by name; the rest literally.
 */
export function matchTopic(pattern: string, topic: string): Record<string, string> | undefined {
  const p = pattern === '' ? [] : pattern.split('/');
  const t = topic === '' ? [] : topic.split('/');
  const captures: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const seg = p[i]!;
    if (seg === '#') return i === p.length - 1 ? captures : undefined;
    const level = t[i];
    if (level === undefined) return undefined;
    if (seg === '+') continue;
    if (!seg.includes('{')) {
      if (seg !== level) return undefined;
      continue;
    }
    const names: string[] = [];
    const source = seg.replace(/\{([a-z_][a-z0-9_]*)\}|[.*+?^$()|[\]\\]/g, (m, name: string | undefined) => {
      if (name === undefined) return `\\${m}`;
      names.push(name);
      return '(.+?)';
    });
    const found = new RegExp(`^${source}$`).exec(level);
    if (!found) return undefined;
    names.forEach((name, j) => setOwn(captures, name, found[j + 1]!));
  }
  return t.length === p.length ? captures : undefined;
}

/** Replaces `{name}` with its captured value. */
export function substitute(text: string, captures: Record<string, string>): string {
  return text.replace(/\{([a-z_][a-z0-9_]*)\}/g, (m, name: string) => ownValue(captures, name) ?? m);
}

/** The value at a dotted path (`ENERGY.Power`, `switch:0.aenergy.total`, `list.0`), or undefined. */
export function valueAt(body: unknown, path: string): unknown {
  let node = body;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    if (!Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
