import type { Aedes, Client } from 'aedes';
import type { LimitCounters, LimitName } from '../limit-counters.js';

/** The limits aedes enforces itself, known only by the message of the error it reports. */
const AEDES_LIMITS: ReadonlyMap<string, LimitName> = new Map([
  ['connect did not arrive in time', 'connect_timeout'],
  ['topic has too many levels', 'topic_too_deep'],
  ['drain timeout', 'slow_consumer'],
]);

/** Counts the limits aedes enforces (connect timeout, topic depth, drain timeout) with the others. */
export function countAedesLimits(aedes: Aedes, counters: LimitCounters, context: (client: Client | null) => Record<string, unknown>): void {
  const onError = (client: Client | null, err: Error) => {
    const name = AEDES_LIMITS.get(err.message);
    if (name) counters.hit(name, context(client));
  };
  aedes.on('connectionError', onError);
  aedes.on('clientError', onError);
}
