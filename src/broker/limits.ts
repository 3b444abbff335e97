/** The broker limits (the `broker.limits` section of sluice.yaml, in code units: ms, bytes). */
export interface BrokerLimits {
  maxPacketBytes: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  connectTimeout: number;
  maxClientIdLength: number;
  maxConcurrentAuth: number;
  maxPendingAuth: number;
  authFreeFailures: number;
  authBackoffBase: number;
  authBackoffMax: number;
  publishRate: number;
  publishBurst: number;
  trustedPublishRate: number;
  trustedPublishBurst: number;
  maxTopicLength: number;
  maxTopicLevels: number;
  maxSubscriptionsPerClient: number;
  maxRetainedMessages: number;
  maxRetainedBytes: number;
  maxQueuedPerSession: number;
  maxQueuedTotal: number;
  sessionExpiry: number;
  maxOutboundBufferBytes: number;
  slowConsumerTimeout: number;
  maxQueuedDeliveries: number;
}
