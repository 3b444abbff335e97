import { topicMatches } from '../core/index.js';
import { bridgeNamespace, type DeviceRecord } from '../devices/index.js';

/**
 * Topic namespaces per role. A device owns `sluice/<id>/` and hears only `sluice/<id>/cmd/…`;
 * a bridge owns its convention's topics (its base topic); the household's own tools may read
 * everything inside the house, publish commands into device namespaces, and use every topic
 * outside them freely (the household bus). Nobody publishes to `$SYS`.
 */
export interface AclContext {
  /** Base topics of registered bridges (kept for callers; the household bus makes them all the household's to command). */
  bridgeBases: readonly string[];
}

export function canPublish(who: DeviceRecord, topic: string, ctx: AclContext): boolean {
  if (topic.startsWith('$SYS') || (topic.startsWith('$') && who.role !== 'household')) return false;
  switch (who.role) {
    case 'device': {
      // `sluice/<id>/` and something below it, checked in place: asked for every publish.
      const end = 7 + who.id.length;
      return topic.length > end + 1 && topic.startsWith('sluice/') && topic.startsWith(who.id, 7) && topic.charCodeAt(end) === 0x2f;
    }
    case 'bridge':
      return bridgeNamespace(who).some((f) => topicMatches(f, topic));
    case 'household':
      // [PRIV-16] Inside the native device namespaces the household only commands; everything
      // outside them (bridge commands and the household bus) is its own and never ingested.
      void ctx;
      if (topic === 'sluice' || topic.startsWith('sluice/')) return /^sluice\/[^/]+\/cmd(\/|$)/.test(topic);
      return true;
  }
}

export function canSubscribe(who: DeviceRecord, filter: string, householdDeny: readonly string[] = []): boolean {
  // $SYS (broker internals: client ids, counters) is for the household's own tools only.
  if (filter.startsWith('$') && who.role !== 'household') return false;
  switch (who.role) {
    case 'device':
      return filterWithin(filter, `sluice/${who.id}/cmd`);
    case 'bridge': {
      const ns = bridgeNamespace(who);
      // Tasmota devices hear their commands under cmnd/, beside the tele/ and stat/ they publish.
      if (who.profile === 'tasmota') ns.push(`${who.baseTopic ? `${who.baseTopic}/` : ''}cmnd/#`);
      return ns.some((f) => (f.endsWith('/#') ? filterWithin(filter, f.slice(0, -2)) : f === filter));
    }
    case 'household':
      return !householdDeny.includes(filter);
  }
}


/** True when every topic the filter can match lies at or below base (wildcards only below it). */
function filterWithin(filter: string, base: string): boolean {
  if (filter === base || filter === `${base}/#`) return true;
  if (!filter.startsWith(`${base}/`)) return false;
  return true;
}
