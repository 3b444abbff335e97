import { Gauge, Registry } from 'prom-client';
import type { Call } from '../app/index.js';

/**
 * Prometheus metrics read from the application layer at scrape time. [PRIV-11] no label names a
 * device, topic, client or room, and no reading value is exported: only counts, bytes and times.
 */
export function buildMetrics(call: Call): Registry {
  const registry = new Registry();
  // Counters of the gateway's own tables are read on scrape, so they are exposed as gauges
  // named *_total only where they only grow; depths and bytes are plain gauges.
  const outbox = new Gauge({ name: 'sluice_outbox_depth', help: 'Summaries waiting to be sent', registers: [registry] });
  const storeBytes = new Gauge({ name: 'sluice_store_bytes', help: 'Size of the database files in bytes', registers: [registry] });
  const freeDisk = new Gauge({ name: 'sluice_disk_free_bytes', help: 'Free bytes on the data directory disk', registers: [registry] });
  const readings = new Gauge({ name: 'sluice_readings_stored', help: 'Raw readings held in the store', registers: [registry] });
  const quarantined = new Gauge({ name: 'sluice_quarantine_messages', help: 'Messages held in quarantine', registers: [registry] });
  const deliveries = new Gauge({ name: 'sluice_deliveries_total', help: 'Summaries sent or failed in the last 30 days, by vendor and outcome', labelNames: ['vendor', 'outcome'], registers: [registry] });
  const jobSuccess = new Gauge({ name: 'sluice_job_last_run_timestamp_seconds', help: 'When each maintenance job last ran', labelNames: ['job'], registers: [registry] });
  const collect = async () => {
    const [info, vendors] = await Promise.all([call('db.info'), call('sharing.vendors', {})]);
    storeBytes.set(info.bytes);
    if (info.free_disk_bytes !== null) freeDisk.set(info.free_disk_bytes);
    readings.set(info.readings);
    quarantined.set(info.quarantine);
    outbox.set(vendors.reduce((n, v) => n + v.queued, 0));
    deliveries.reset();
    for (const v of vendors) {
      deliveries.set({ vendor: v.vendor, outcome: 'delivered' }, v.summaries_sent);
      deliveries.set({ vendor: v.vendor, outcome: 'failed' }, v.failed);
    }
    jobSuccess.reset();
    for (const j of info.jobs) if (j.last_run) jobSuccess.set({ job: j.job }, Date.parse(j.last_run) / 1000);
  };
  const metrics = registry.metrics.bind(registry);
  registry.metrics = async () => {
    await collect();
    return metrics();
  };
  return registry;
}
