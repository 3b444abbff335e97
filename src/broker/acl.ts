import type { DeviceRecord } from '../devices/index.js';

/**
 * Topic namespaces per role. A device owns `sluice/<id>/` and hears only `sluice/<id>/cmd/…`;
 * a bridge owns its base topic; the household's own tools may read everything inside the
 * house and publish commands. Nobody publishes to `$SYS`.
 */
export interface AclContext {
  /** Base topics of registered bridges; the household may command devices behind them. */
  bridgeBases: readonly string[];
}

export function canPublish(who: DeviceRecord, topic: string, ctx: AclContext): boolean {
  if (topic.startsWith('$')) return false;
  switch (who.role) {
    case 'device':
      return topic.startsWith(`sluice/${who.id}/`) && topic.length > `sluice/${who.id}/`.length;
    case 'bridge':
      return within(topic, who.baseTopic ?? who.id);
    case 'household':
      return /^sluice\/[^/]+\/cmd(\/|$)/.test(topic) || ctx.bridgeBases.some((base) => within(topic, base));
  }
}

export function canSubscribe(who: DeviceRecord, filter: string): boolean {
  // $SYS (broker internals: client ids, counters) is for the household's own tools only.
  if (filter.startsWith('$') && who.role !== 'household') return false;
  switch (who.role) {
    case 'device':
      return filterWithin(filter, `sluice/${who.id}/cmd`);
    case 'bridge':
      return filterWithin(filter, who.baseTopic ?? who.id);
    case 'household':
      return true;
  }
}

function within(topic: string, base: string): boolean {
  return topic === base || topic.startsWith(`${base}/`);
}

/** True when every topic the filter can match lies at or below base (wildcards only below it). */
function filterWithin(filter: string, base: string): boolean {
  if (filter === base || filter === `${base}/#`) return true;
  if (!filter.startsWith(`${base}/`)) return false;
  return true;
}
