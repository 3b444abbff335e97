import type { Logger } from '../core/index.js';

/** Every limit the broker enforces; each is counted and logged once when first hit. */
export const LIMIT_NAMES = [
  'packet_too_large',
  'malformed_header',
  'connections',
  'connections_per_address',
  'connect_timeout',
  'client_id_too_long',
  'auth_backoff',
  'auth_busy',
  'publish_rate_dropped',
  'publish_rate_delayed',
  'topic_too_long',
  'topic_too_deep',
  'subscriptions',
  'retained_count',
  'retained_bytes',
  'offline_queue_dropped',
  'sessions_expired',
  'slow_consumer',
  'emitter_dropped',
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

const DESCRIPTIONS: Record<LimitName, string> = {
  packet_too_large: 'a packet larger than broker.limits.max_packet_bytes was announced; connection closed before buffering it',
  malformed_header: 'a packet with a malformed fixed header arrived; connection closed',
  connections: 'broker.limits.max_connections reached; new connections are closed',
  connections_per_address: 'broker.limits.max_connections_per_address reached for one address; its new connections are closed',
  connect_timeout: 'a connection sent no CONNECT within broker.limits.connect_timeout; closed',
  client_id_too_long: 'a client id longer than broker.limits.max_client_id_length; refused with CONNACK 0x02',
  auth_backoff: 'repeated bad credentials from one address and username; further attempts refused for a while',
  auth_busy: 'more logins arrived at once than broker.limits.max_concurrent_auth + max_pending_auth; refused as server unavailable',
  publish_rate_dropped: 'a client published QoS 0 faster than broker.limits.publish_rate; excess messages dropped',
  publish_rate_delayed: 'a client published QoS 1 faster than broker.limits.publish_rate; acknowledgements withheld to slow it',
  topic_too_long: 'a topic longer than broker.limits.max_topic_length; refused',
  topic_too_deep: 'a topic with more levels than broker.limits.max_topic_levels; refused',
  subscriptions: 'a client exceeded broker.limits.max_subscriptions_per_client; further subscriptions refused',
  retained_count: 'broker.limits.max_retained_messages reached; new retained topics are not retained',
  retained_bytes: 'broker.limits.max_retained_bytes reached; new retained messages are not retained',
  offline_queue_dropped: 'an offline session queued more than broker.limits.max_queued_per_session messages (its oldest dropped), or all together more than max_queued_total (new ones refused)',
  sessions_expired: 'a persistent session stayed offline longer than broker.limits.session_expiry; removed',
  slow_consumer: 'a client did not read its messages (send buffer over broker.limits.max_outbound_buffer_bytes, or not drained within slow_consumer_timeout); disconnected',
  emitter_dropped: 'more QoS 0 messages waited for delivery than broker.limits.max_queued_deliveries; excess dropped',
};

/** Counters for the limits, each logged once (at warn) the first time it is hit. */
export class LimitCounters {
  private readonly counts = new Map<LimitName, number>();

  constructor(private readonly logger: Logger) {}

  hit(name: LimitName, context: Record<string, unknown> = {}, by = 1): void {
    const before = this.counts.get(name) ?? 0;
    this.counts.set(name, before + by);
    if (before === 0) this.logger.warn({ limit: name, ...context }, `limit hit: ${DESCRIPTIONS[name]} (logged once; see sluice status)`);
  }

  get(name: LimitName): number {
    return this.counts.get(name) ?? 0;
  }

  snapshot(): Record<LimitName, number> {
    return Object.fromEntries(LIMIT_NAMES.map((n) => [n, this.get(n)])) as Record<LimitName, number>;
  }
}
