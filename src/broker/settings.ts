import { configSchema, type SluiceConfig } from '../config/index.js';
import type { BrokerLimits } from './hardening.js';
import type { ListenerOptions } from './listeners.js';

/** Listener and limit settings of the broker, from sluice.yaml's `mqtt` and `broker` sections. */
export interface BrokerSettings {
  listeners: ListenerOptions;
  limits: BrokerLimits;
}

/** Maps the validated config (snake_case) to the broker's settings (camelCase, ms, bytes). */
export function brokerSettings(config: Pick<SluiceConfig, 'mqtt' | 'broker'>): BrokerSettings {
  const { broker, mqtt } = config;
  const l = broker.limits;
  return {
    listeners: {
      // Above the broker's own cap, which counts and logs; this one only stops handshakes piling up.
      maxConnections: l.max_connections + 16,
      handshakeTimeout: l.connect_timeout,
      tcp: { enabled: broker.tcp, host: mqtt.host, port: mqtt.port },
      tls: { enabled: broker.tls.enabled, host: broker.tls.host, port: broker.tls.port, certFile: broker.tls.cert_file, keyFile: broker.tls.key_file },
      websocket: { ...broker.websocket, maxFrameBytes: l.max_packet_bytes },
    },
    limits: {
      maxPacketBytes: l.max_packet_bytes,
      maxConnections: l.max_connections,
      maxConnectionsPerAddress: l.max_connections_per_address,
      connectTimeout: l.connect_timeout,
      maxClientIdLength: l.max_client_id_length,
      maxConcurrentAuth: l.max_concurrent_auth,
      maxPendingAuth: l.max_pending_auth,
      authFreeFailures: l.auth_free_failures,
      authBackoffBase: l.auth_backoff_base,
      authBackoffMax: l.auth_backoff_max,
      publishRate: l.publish_rate,
      publishBurst: l.publish_burst,
      trustedPublishRate: l.trusted_publish_rate,
      trustedPublishBurst: l.trusted_publish_burst,
      maxTopicLength: l.max_topic_length,
      maxTopicLevels: l.max_topic_levels,
      maxSubscriptionsPerClient: l.max_subscriptions_per_client,
      maxRetainedMessages: l.max_retained_messages,
      maxRetainedBytes: l.max_retained_bytes,
      maxQueuedPerSession: l.max_queued_per_session,
      maxQueuedTotal: l.max_queued_total,
      sessionExpiry: l.session_expiry,
      maxOutboundBufferBytes: l.max_outbound_buffer_bytes,
      slowConsumerTimeout: l.slow_consumer_timeout,
      maxQueuedDeliveries: l.max_queued_deliveries,
    },
  };
}

/** The defaults, for a broker built without a config (tests). */
export function defaultBrokerSettings(host: string, port: number): BrokerSettings {
  const defaults = configSchema.parse({});
  return brokerSettings({ broker: defaults.broker, mqtt: { host, port } });
}
