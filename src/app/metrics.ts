import type { LedgerKind } from '../ledger/index.js';
import { databaseBytes, freeDiskBytes } from '../store/index.js';
import { dirname } from 'node:path';
import { defineOperation, noParams } from './operation.js';

/** A summary's delivery as the ledger records it, by the label `/metrics` gives it. */
const DELIVERY_KINDS: Record<string, string> = {
  'disclosure.acknowledged': 'delivered',
  'disclosure.failed': 'failed',
  'disclosure.dropped': 'dropped',
  'disclosure.retrying': 'retried',
};

/** What `/metrics` exposes: counts, bytes and times only. [PRIV-11] nothing per device, topic, client or room, no reading value. */
export interface MetricsSnapshot {
  /** Since the gateway started; null outside a running gateway. */
  messages: { received: number; stored: number; readings: number; quarantined: Array<{ reason: string; count: number }> } | null;
  /** All-time counts from the append-only ledger, so they survive restarts and only grow. */
  deliveries: Array<{ vendor: string; outcome: string; count: number }>;
  outbox_depth: number;
  store_bytes: number;
  free_disk_bytes: number | null;
  /** When each maintenance job last finished well (ISO), or null. */
  jobs: Array<{ job: string; last_success: string | null }>;
}

export const metricsOperations = {
  'metrics.snapshot': defineOperation({
    params: noParams,
    run: ({ context: ctx, sharing: { ledger, outbox }, scheduler, runtime }): MetricsSnapshot => {
      const counts = runtime?.().ingest?.() ?? null;
      return {
        messages: counts && {
          received: counts.received,
          stored: counts.stored,
          readings: counts.readings,
          quarantined: Object.entries(counts.quarantined).map(([reason, count]) => ({ reason, count })),
        },
        deliveries: ledger
          .countByKind(Object.keys(DELIVERY_KINDS) as LedgerKind[])
          .filter((r) => r.vendor !== null)
          .map((r) => ({ vendor: r.vendor!, outcome: DELIVERY_KINDS[r.kind]!, count: r.count })),
        outbox_depth: outbox.depth(),
        store_bytes: databaseBytes(ctx.db.path),
        free_disk_bytes: freeDiskBytes(dirname(ctx.db.path)),
        jobs: (scheduler?.lastSuccess() ?? []).map((j) => ({ job: j.job, last_success: j.at === null ? null : new Date(j.at).toISOString() })),
      };
    },
  }),
};
