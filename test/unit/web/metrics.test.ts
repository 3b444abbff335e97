import { describe, expect, it } from 'vitest';
import type { Call, MetricsSnapshot } from '../../../src/app/index.js';
import { buildMetrics, METRIC_LABELS } from '../../../src/web/index.js';

const snapshot = (over: Partial<MetricsSnapshot> = {}): MetricsSnapshot => ({
  messages: { received: 12, stored: 9, readings: 27, quarantined: [{ reason: 'not_json', count: 2 }, { reason: 'out_of_range', count: 1 }] },
  deliveries: [
    { vendor: 'acme-heating', outcome: 'delivered', count: 5 },
    { vendor: 'acme-heating', outcome: 'retried', count: 2 },
    { vendor: 'fridgeco', outcome: 'failed', count: 1 },
  ],
  outbox_depth: 3,
  store_bytes: 123456,
  free_disk_bytes: 9_000_000_000,
  jobs: [{ job: 'retention', last_success: '2026-11-30T03:00:01.000Z' }, { job: 'checkpoint', last_success: null }],
  ...over,
});

const fakeCall = (s: () => MetricsSnapshot) => (async (op: string) => {
  if (op !== 'metrics.snapshot') throw new Error(`unexpected ${op}`);
  return s();
}) as unknown as Call;

/** Sample lines as { name, labels, value }. */
function samples(text: string) {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(l);
      if (!m) throw new Error(`not a sample line: ${l}`);
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}

describe('/metrics', () => {
  it('exposes _total counters of messages and deliveries, gauges in base units, and only the allowed label names', async () => {
    const text = await buildMetrics(fakeCall(() => snapshot())).metrics();
    const s = samples(text);
    const value = (name: string, labels: Record<string, string> = {}) => s.find((x) => x.name === name && JSON.stringify(x.labels) === JSON.stringify(labels))?.value;
    expect(value('sluice_messages_received_total')).toBe(12);
    expect(value('sluice_messages_stored_total')).toBe(9);
    expect(value('sluice_readings_stored_total')).toBe(27);
    expect(value('sluice_messages_quarantined_total', { reason: 'not_json' })).toBe(2);
    expect(value('sluice_deliveries_total', { vendor: 'acme-heating', outcome: 'delivered' })).toBe(5);
    expect(value('sluice_deliveries_total', { vendor: 'fridgeco', outcome: 'failed' })).toBe(1);
    expect(value('sluice_outbox_depth')).toBe(3);
    expect(value('sluice_store_bytes')).toBe(123456);
    expect(value('sluice_disk_free_bytes')).toBe(9_000_000_000);
    expect(value('sluice_job_last_success_timestamp_seconds', { job: 'retention' })).toBe(Date.parse('2026-11-30T03:00:01.000Z') / 1000);
    expect(s.some((x) => x.labels.job === 'checkpoint')).toBe(false);
    // The label sets of every family, pinned: nothing per device, topic, client or room can appear.
    const labelSets = new Map<string, Set<string>>();
    for (const x of s) labelSets.set(x.name, new Set([...(labelSets.get(x.name) ?? []), ...Object.keys(x.labels)]));
    expect(Object.fromEntries([...labelSets].map(([k, v]) => [k, [...v].sort()]))).toEqual({
      sluice_messages_received_total: [],
      sluice_messages_stored_total: [],
      sluice_readings_stored_total: [],
      sluice_messages_quarantined_total: ['reason'],
      sluice_deliveries_total: ['outcome', 'vendor'],
      sluice_outbox_depth: [],
      sluice_store_bytes: [],
      sluice_disk_free_bytes: [],
      sluice_job_last_success_timestamp_seconds: ['job'],
    });
    for (const x of s) for (const k of Object.keys(x.labels)) expect(METRIC_LABELS).toContain(k);
    expect(text).toMatch(/# TYPE sluice_messages_received_total counter/);
    expect(text).toMatch(/# TYPE sluice_deliveries_total counter/);
  });

  it('each scrape shows the current counts, not an accumulation of scrapes', async () => {
    let received = 1;
    const registry = buildMetrics(fakeCall(() => snapshot({ messages: { received, stored: 0, readings: 0, quarantined: [] }, deliveries: [] })));
    await registry.metrics();
    received = 5;
    const s = samples(await registry.metrics());
    expect(s.find((x) => x.name === 'sluice_messages_received_total')?.value).toBe(5);
    expect(s.some((x) => x.name === 'sluice_deliveries_total')).toBe(false);
  });
});
