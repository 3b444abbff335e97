import type { Client } from 'aedes';
import type { LimitCounters } from '../limit-counters.js';
import type { BrokerLimits } from '../limits.js';

/** Caps on what one client subscribes to: filter length and the number of subscriptions. */
export class SubscriptionLimits {
  constructor(
    private readonly deps: {
      limits: Pick<BrokerLimits, 'maxTopicLength' | 'maxSubscriptionsPerClient'>;
      counters: LimitCounters;
      context: (client: Client | null) => Record<string, unknown>;
    },
  ) {}

  /** Whether one more subscription (to `filter`) is within the client's caps. */
  allows(client: Client, filter: string): boolean {
    const { limits, counters } = this.deps;
    if (filter.length > limits.maxTopicLength) {
      counters.hit('topic_too_long', this.deps.context(client));
      return false;
    }
    // aedes keeps the client's current subscriptions on the client itself.
    const current = (client as Client & { subscriptions: Record<string, unknown> }).subscriptions;
    if (!Object.hasOwn(current, filter) && Object.keys(current).length >= limits.maxSubscriptionsPerClient) {
      counters.hit('subscriptions', this.deps.context(client));
      return false;
    }
    return true;
  }
}
