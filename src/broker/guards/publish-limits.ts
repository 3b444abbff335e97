import type { Client } from 'aedes';
import type { Clock } from '../../core/index.js';
import type { LimitCounters, LimitName } from '../limit-counters.js';
import type { BrokerLimits } from '../limits.js';
import type { RetainedIndex } from '../retained-index.js';
import { TokenBucket } from '../token-bucket.js';

/** What a publish check decided. */
export type PublishCheck = { ok: true } | { ok: false; reason: string };

/**
 * Limits on what a client publishes: its rate budget (spent in the packet guard), topic length,
 * and the retained caps, counted against the session store's one retained index.
 */
export class PublishLimits {
  constructor(
    private readonly deps: {
      limits: Pick<BrokerLimits, 'publishRate' | 'publishBurst' | 'trustedPublishRate' | 'trustedPublishBurst' | 'maxTopicLength' | 'maxRetainedMessages' | 'maxRetainedBytes'>;
      clock: Clock;
      counters: LimitCounters;
      retained: RetainedIndex;
      context: (client: Client | null) => Record<string, unknown>;
    },
  ) {}

  /** A device's publish budget: every connection starts with it. */
  deviceBudget(): TokenBucket {
    const { limits, clock } = this.deps;
    return new TokenBucket(limits.publishRate, limits.publishBurst, clock.now());
  }

  /** Gives a bridge, a household tool or the household's simulator the larger budget. */
  trust(budget: TokenBucket | undefined): void {
    const { limits, clock } = this.deps;
    budget?.reconfigure(limits.trustedPublishRate, limits.trustedPublishBurst, clock.now());
  }

  /** Topic length, checked before the ACL and ingest look at the topic. */
  checkTopic(client: Client | null, topic: string): PublishCheck {
    const { maxTopicLength } = this.deps.limits;
    if (topic.length > maxTopicLength) {
      this.count('topic_too_long', client);
      return { ok: false, reason: `topic longer than ${maxTopicLength} characters` };
    }
    return { ok: true };
  }

  /**
   * The retained caps, for an authorized publish with the retain flag: over a cap the message
   * is still delivered but not kept (its retain flag is cleared before aedes stores it).
   */
  capRetained(client: Client | null, packet: { topic: string; payload: Buffer | string; retain?: boolean }): void {
    if (!packet.retain) return;
    const bytes = Buffer.byteLength(packet.payload);
    if (bytes === 0) return; // clears the topic [MQTT-3.3.1-10], never over a cap
    const { limits } = this.deps;
    const refusal = this.deps.retained.refusal(packet.topic, bytes, { maxMessages: limits.maxRetainedMessages, maxBytes: limits.maxRetainedBytes });
    if (!refusal) return;
    this.count(refusal, client);
    packet.retain = false;
  }

  stats(): { retained_messages: number; retained_bytes: number } {
    return { retained_messages: this.deps.retained.count, retained_bytes: this.deps.retained.bytes };
  }

  private count(name: LimitName, client: Client | null): void {
    this.deps.counters.hit(name, this.deps.context(client));
  }
}
