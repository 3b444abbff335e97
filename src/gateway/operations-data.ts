import { DateTime } from 'luxon';
import type { SluiceConfig } from '../config/index.js';
import { SluiceError, parseSince, type AdminHandler } from '../core/index.js';
import type { Scheduler } from '../schedule/index.js';
import {
  StoreMaintenance,
  eraseCounts,
  eraseScope,
  quickCheck,
  yieldToEventLoop,
  type EraseScope,
  type ReadingWriter,
  type SpecOf,
  type StoreMaintenanceSettings,
} from '../store/index.js';
import type { GatewayContext } from './context.js';

/** What a running gateway adds to the data operations; a CLI without a gateway has none of it. */
export interface DataRuntime {
  maintenance: StoreMaintenance;
  writer?: ReadingWriter;
  scheduler?: Scheduler;
  /** TEST ONLY (SLUICE_TEST_HOOKS=1): lets tests simulate a full disk with max_page_count. */
  testHooks?: boolean;
}

export const RETENTION_JOB = 'store.retention';
export const CHECKPOINT_JOB = 'store.checkpoint';

export function maintenanceSettings(config: Readonly<SluiceConfig>): StoreMaintenanceSettings {
  const r = config.retention;
  return {
    rawDays: r.raw_days,
    rollupDays: r.rollup_days,
    overrides: r.overrides,
    batchSize: r.batch_size,
    recheck: r.recheck,
    hold: r.hold,
    timeZone: config.timezone,
    walAutocheckpoint: config.storage.wal_autocheckpoint,
  };
}

/** The profile spec of a device's metric, through the registry and the loaded profiles. */
export function specResolver(ctx: GatewayContext): SpecOf {
  return (deviceId, metric) => {
    const profile = ctx.registry.get(deviceId)?.profile;
    return profile ? ctx.profiles().get(profile)?.metrics[metric] : undefined;
  };
}

export function buildMaintenance(ctx: GatewayContext): StoreMaintenance {
  return new StoreMaintenance({ db: ctx.db, specOf: specResolver(ctx), settings: maintenanceSettings(ctx.config) });
}

/** Parses `--before`: a date (midnight on the household's clock) or an ISO 8601 time. */
export function parseBefore(text: string, timeZone: string): number {
  const t = DateTime.fromISO(text, { zone: timeZone });
  if (!t.isValid) throw new SluiceError('SLUICE_ERR_USAGE', `--before: expected a date (2026-03-29) or an ISO 8601 time (2026-03-29T08:00:00+02:00); got "${text}"`);
  return t.toMillis();
}

function eraseScopeOf(p: Record<string, unknown>, timeZone: string): EraseScope {
  const scope: EraseScope = {
    deviceId: typeof p.device === 'string' ? p.device : undefined,
    metric: typeof p.metric === 'string' ? p.metric : undefined,
    before: typeof p.before === 'string' ? parseBefore(p.before, timeZone) : undefined,
    all: p.all === true,
  };
  const narrowed = scope.deviceId !== undefined || scope.metric !== undefined || scope.before !== undefined;
  if (scope.all && narrowed) throw new SluiceError('SLUICE_ERR_USAGE', '--all erases everything; it cannot be combined with --device, --metric or --before');
  if (!scope.all && !narrowed) throw new SluiceError('SLUICE_ERR_USAGE', 'say what to erase: --device ID, --metric M, --before DATE (they combine), or --all');
  return scope;
}

/** Admin operations for the household's data: info, check, erase, maintenance, rollups. */
export function dataOperations(ctx: GatewayContext, runtime?: DataRuntime): Record<string, AdminHandler> {
  const maintenance = runtime?.maintenance ?? buildMaintenance(ctx);
  const ops: Record<string, AdminHandler> = {
    'db.info': () => {
      const info = maintenance.info();
      return {
        ...info,
        store_fault: runtime?.writer?.faultInfo ?? null,
        jobs: (runtime?.scheduler?.overview() ?? []).map((j) => ({
          job: j.job,
          cron: j.cron,
          next: new Date(j.next).toISOString(),
          last_run: j.last ? new Date(j.last.startedAt).toISOString() : null,
          last_outcome: j.last?.outcome ?? null,
        })),
      };
    },
    'db.check': (p) => {
      const problems = p.full === true
        ? (ctx.db.raw.pragma('integrity_check(20)') as Array<{ integrity_check: string }>).map((r) => r.integrity_check).filter((m) => m !== 'ok')
        : quickCheck(ctx.db.raw);
      return { ok: problems.length === 0, problems, path: ctx.db.path };
    },
    erase: async (p) => {
      const scope = eraseScopeOf(p, ctx.config.timezone);
      if (p.yes !== true) return { erased: false, would_remove: eraseCounts(ctx.db, scope) };
      const result = await eraseScope(ctx.db, scope, { batchSize: ctx.config.retention.batch_size, pause: yieldToEventLoop });
      runtime?.writer?.refreshCaches();
      return {
        erased: true,
        removed: { readings: result.readings, rollups: result.rollups, quarantine: result.quarantine, series: result.series },
        bytes_before: result.bytesBefore,
        bytes_after: result.bytesAfter,
        backup_erased: result.backupErased,
      };
    },
    'db.maintain': async (p) => {
      const job = typeof p.job === 'string' ? p.job : RETENTION_JOB;
      if (job !== RETENTION_JOB && job !== CHECKPOINT_JOB) throw new SluiceError('SLUICE_ERR_USAGE', `no maintenance job "${job}"`);
      if (runtime?.scheduler) return (await runtime.scheduler.runNow(job)).detail;
      return job === RETENTION_JOB ? maintenance.retention(ctx.clock.now()) : maintenance.checkpoint('PASSIVE');
    },
    rollups: (p) => {
      const now = ctx.clock.now();
      if (typeof p.id !== 'string' || typeof p.metric !== 'string') throw new SluiceError('SLUICE_ERR_USAGE', 'rollups needs a device id and --metric');
      const from = typeof p.since === 'string' ? parseSince(p.since, now) : now - 86_400_000;
      const to = typeof p.until === 'string' ? parseSince(p.until, now) : now;
      const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
      return maintenance.rollups.query({ deviceId: p.id, metric: p.metric, from, to }).map((s) => {
        const w = s.stats;
        return {
          device: s.deviceId,
          component: s.component,
          metric: s.metric,
          unit: s.unit,
          hours: w.hours,
          count: w.count,
          sum: w.sum,
          mean: w.mean,
          min: w.min,
          max: w.max,
          first: w.first,
          first_ts: iso(w.firstTs),
          last: w.last,
          last_ts: iso(w.lastTs),
          time_weighted_mean: w.timeWeightedMean,
          covered_ms: w.coveredMs,
          increase: w.increase,
          resets: w.resets,
          states_ms: w.states,
          p50: w.sketch?.quantile(0.5) ?? null,
          p95: w.sketch?.quantile(0.95) ?? null,
        };
      });
    },
  };
  if (runtime?.testHooks) {
    // TEST ONLY: caps the database at its current size (a "full disk") or lifts the cap.
    ops['test.max_page_count'] = (p) => {
      const pages = p.pages === 'current' ? (ctx.db.raw.pragma('page_count', { simple: true }) as number) : Number(p.pages);
      return { max_page_count: ctx.db.raw.pragma(`max_page_count = ${Math.floor(pages)}`, { simple: true }) };
    };
  }
  return ops;
}
