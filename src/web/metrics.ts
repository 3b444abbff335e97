import { Counter, Gauge, Registry } from 'prom-client';
import type { Call, MetricsSnapshot } from '../app/index.js';

/** Every label `/metrics` may carry. [PRIV-11] none names a device, topic, client or room. */
export const METRIC_LABELS = ['vendor', 'outcome', 'reason', 'job'] as const;

/**
 * Prometheus metrics from the application layer's snapshot, taken at scrape time. Counters
 * mirror counts that only grow (since start for ingest, all-time from the append-only ledger for
 * deliveries), so they are set from the snapshot rather than incremented here; names follow the
 * Prometheus conventions: `sluice_` prefix, base units (bytes, seconds), `_total` on counters.
 * [PRIV-11] no reading value is exported: only counts, bytes and times.
 */
export function buildMetrics(call: Call): Registry {
  const registry = new Registry();
  const registers = [registry];
  const received = new Counter({ name: 'sluice_messages_received_total', help: 'Device and bridge messages handed to ingest since start', registers });
  const stored = new Counter({ name: 'sluice_messages_stored_total', help: 'Messages with at least one reading committed to the store since start', registers });
  const readings = new Counter({ name: 'sluice_readings_stored_total', help: 'Readings committed to the store since start', registers });
  const quarantined = new Counter({ name: 'sluice_messages_quarantined_total', help: 'Messages (or parts of one) put in quarantine since start, by reason code', labelNames: ['reason'], registers });
  const deliveries = new Counter({ name: 'sluice_deliveries_total', help: 'Summary deliveries recorded on the ledger, by vendor and outcome (delivered, failed, dropped, retried)', labelNames: ['vendor', 'outcome'], registers });
  const outbox = new Gauge({ name: 'sluice_outbox_depth', help: 'Summaries waiting to be sent (first attempt or retry)', registers });
  const storeBytes = new Gauge({ name: 'sluice_store_bytes', help: 'Size of the database files in bytes', registers });
  const freeDisk = new Gauge({ name: 'sluice_disk_free_bytes', help: 'Free bytes on the data directory disk', registers });
  const jobSuccess = new Gauge({ name: 'sluice_job_last_success_timestamp_seconds', help: 'When each maintenance job last finished without error (Unix time)', labelNames: ['job'], registers });

  const apply = (s: MetricsSnapshot) => {
    for (const m of [received, stored, readings, quarantined, deliveries, jobSuccess]) m.reset();
    if (s.messages) {
      received.inc(s.messages.received);
      stored.inc(s.messages.stored);
      readings.inc(s.messages.readings);
      for (const q of s.messages.quarantined) quarantined.inc({ reason: q.reason }, q.count);
    }
    for (const d of s.deliveries) deliveries.inc({ vendor: d.vendor, outcome: d.outcome }, d.count);
    outbox.set(s.outbox_depth);
    storeBytes.set(s.store_bytes);
    if (s.free_disk_bytes !== null) freeDisk.set(s.free_disk_bytes);
    for (const j of s.jobs) if (j.last_success) jobSuccess.set({ job: j.job }, Date.parse(j.last_success) / 1000);
  };
  const metrics = registry.metrics.bind(registry);
  registry.metrics = async () => {
    apply(await call('metrics.snapshot'));
    return metrics();
  };
  return registry;
}
