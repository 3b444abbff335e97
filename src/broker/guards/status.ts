/** The `broker` section of `sluice status --json`: each guard's own numbers, in the published shape. */
export function brokerStatus(parts: {
  admission: { connections: number };
  publish: { retained_messages: number; retained_bytes: number };
  sessions: { offline_sessions: number };
  auth: { auth_backoff_entries: number };
  queuedForSessions: number;
  queuedDeliveries: number;
  limitsHit: Record<string, number>;
}): Record<string, unknown> {
  const memory = process.memoryUsage();
  // Key order is part of the interface users read; keep it.
  return {
    rss_bytes: memory.rss,
    heap_used_bytes: memory.heapUsed,
    heap_total_bytes: memory.heapTotal,
    external_bytes: memory.external + memory.arrayBuffers,
    queued_for_sessions: parts.queuedForSessions,
    connections: parts.admission.connections,
    retained_messages: parts.publish.retained_messages,
    retained_bytes: parts.publish.retained_bytes,
    offline_sessions: parts.sessions.offline_sessions,
    queued_deliveries: parts.queuedDeliveries,
    auth_backoff_entries: parts.auth.auth_backoff_entries,
    limits_hit: parts.limitsHit,
  };
}
