import { DateTime } from 'luxon';
import { z } from 'zod';
import { SluiceError, ownValue, parseSince } from '../core/index.js';
import {
  CHECKPOINT_JOB,
  RETENTION_JOB,
  StoreMaintenance,
  eraseCounts,
  eraseScope,
  maintenanceSettings,
  quickCheck,
  yieldToEventLoop,
  type DatabaseInfo,
  type EraseScope,
  type SpecOf,
  type SyncTimesSummary,
} from '../store/index.js';
import type { GatewayContext } from './context.js';
import { defineOperation, flag, noParams, optionalText, params, requiredText } from './operation.js';

/** `db.info`: the store's DatabaseInfo plus the gateway's view of faults and jobs. */
export type InfoResult = DatabaseInfo & {
  store_fault: unknown;
  /** flash store: when QoS 1 is acknowledged and why; null when no gateway runs */
  durability: { mode: string; reason: string } | null;
  /** readings in the hot log not yet sealed into the database */
  unsealed_readings: number;
  /** bytes the gateway wrote to storage since the day began (UTC), from /proc/self/io; null when no gateway runs */
  written_today_bytes: number | null;
  /** the hot log's last fdatasyncs (what a PUBACK waits for in `fsync` mode); null when no gateway runs or none happened yet */
  log_sync: SyncTimesSummary | null;
  jobs: Array<{ job: string; cron: string; next: string; last_run: string | null; last_outcome: string | null }>;
};

/** The rows of each kind an erase removes (or would remove). */
export interface EraseCountsRow {
  readings: number;
  rollups: number;
  quarantine: number;
  series: number;
}

/** `erase`: what would go without `yes`, what went with it. */
export interface EraseResult {
  erased: boolean;
  would_remove?: EraseCountsRow;
  removed?: EraseCountsRow;
  bytes_before?: number;
  bytes_after?: number;
  backup_erased?: boolean;
}

/** `db.check`. */
export interface CheckResult {
  ok: boolean;
  problems: string[];
  path: string;
}

/** The profile spec of a device's metric, through the registry and the loaded profiles. */
export function specResolver(ctx: GatewayContext): SpecOf {
  return (deviceId, metric) => {
    const profile = ctx.registry.get(deviceId)?.profile;
    const metrics = profile ? ctx.profiles().get(profile)?.metrics : undefined;
    return metrics ? ownValue(metrics, metric) : undefined;
  };
}

export function buildMaintenance(ctx: GatewayContext): StoreMaintenance {
  return new StoreMaintenance({ db: ctx.db, specOf: specResolver(ctx), settings: maintenanceSettings(ctx.config), events: ctx.events });
}

/** Parses `--before`: a date (midnight on the household's clock) or an ISO 8601 time. */
export function parseBefore(text: string, timeZone: string): number {
  const t = DateTime.fromISO(text, { zone: timeZone });
  if (!t.isValid) throw new SluiceError('SLUICE_ERR_USAGE', `--before: expected a date (2026-03-29) or an ISO 8601 time (2026-03-29T08:00:00+02:00); got "${text}"`);
  return t.toMillis();
}

const eraseParams = params({ device: optionalText('--device'), metric: optionalText('--metric'), before: optionalText('--before'), all: flag('--all'), yes: flag('--yes') });

function eraseScopeOf(p: z.output<typeof eraseParams>, timeZone: string): EraseScope {
  const scope: EraseScope = { deviceId: p.device, metric: p.metric, before: p.before === undefined ? undefined : parseBefore(p.before, timeZone), all: p.all };
  const narrowed = scope.deviceId !== undefined || scope.metric !== undefined || scope.before !== undefined;
  if (scope.all && narrowed) throw new SluiceError('SLUICE_ERR_USAGE', '--all erases everything; it cannot be combined with --device, --metric or --before');
  if (!scope.all && !narrowed) throw new SluiceError('SLUICE_ERR_USAGE', 'say what to erase: --device ID, --metric M, --before DATE (they combine), or --all');
  return scope;
}

const ROLLUPS_NEED = 'rollups needs a device id and --metric';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The household's data: info, check, erase, maintenance, rollups. */
export const dataOperations = {
  'db.info': defineOperation({
    params: noParams,
    run: ({ context: ctx, maintenance, writer, scheduler }): InfoResult => {
      // One read snapshot for sealed and unsealed: a seal committing on the worker meanwhile is counted once.
      const [info, unsealed] = ctx.db.raw.transaction(() => [maintenance.info(), ctx.hot.unsealedReadings(ctx.db)] as const).deferred();
      return {
        ...info,
        store_fault: writer?.faultInfo ?? null,
        durability: writer?.durability ?? null,
        unsealed_readings: unsealed,
        written_today_bytes: writer?.writtenToday()?.bytes ?? null,
        log_sync: writer?.syncTimes() ?? null,
        jobs: (scheduler?.overview() ?? []).map((j) => ({
          job: j.job,
          cron: j.cron,
          next: new Date(j.next).toISOString(),
          last_run: j.last ? new Date(j.last.startedAt).toISOString() : null,
          last_outcome: j.last?.outcome ?? null,
        })),
      };
    },
  }),
  'db.check': defineOperation({
    params: params({ full: flag('--full') }),
    run: ({ context: ctx }, p): CheckResult => {
      const problems = p.full
        ? (ctx.db.raw.pragma('integrity_check(20)') as Array<{ integrity_check: string }>).map((r) => r.integrity_check).filter((m) => m !== 'ok')
        : quickCheck(ctx.db.raw);
      return { ok: problems.length === 0, problems, path: ctx.db.path };
    },
  }),
  erase: defineOperation({
    params: eraseParams,
    run: async ({ context: ctx, writer }, p): Promise<EraseResult> => {
      const scope = eraseScopeOf(p, ctx.config.timezone);
      // [PRIV-6] the hot log is sealed into the database first, its segments zero-filled and
      // removed, so the erase below reaches every copy (on flash, zero-fill is best effort).
      if (writer?.durability) writer.seal({ overwrite: p.yes });
      else ctx.hot.seal(ctx.db, { overwrite: p.yes });
      if (!p.yes) return { erased: false, would_remove: eraseCounts(ctx.db, scope) };
      const result = await eraseScope(ctx.db, scope, { batchSize: ctx.config.retention.batch_size, pause: yieldToEventLoop });
      ctx.events.emit('store.purged', { by: 'erase' });
      return {
        erased: true,
        removed: { readings: result.readings, rollups: result.rollups, quarantine: result.quarantine, series: result.series },
        bytes_before: result.bytesBefore,
        bytes_after: result.bytesAfter,
        backup_erased: result.backupErased,
      };
    },
  }),
  'db.maintain': defineOperation({
    params: params({
      job: optionalText('job').refine((j) => j === undefined || j === RETENTION_JOB || j === CHECKPOINT_JOB, { error: (iss) => `no maintenance job "${String(iss.input)}"` }),
    }),
    run: async ({ context: ctx, maintenance, scheduler }, p): Promise<unknown> => {
      const job = p.job ?? RETENTION_JOB;
      if (scheduler) return (await scheduler.runNow(job)).detail;
      ctx.hot.seal(ctx.db);
      return job === RETENTION_JOB ? maintenance.retention(ctx.clock.now()) : maintenance.checkpoint('PASSIVE');
    },
  }),
  rollups: defineOperation({
    params: params({
      id: requiredText('device id', ROLLUPS_NEED),
      metric: requiredText('--metric', ROLLUPS_NEED),
      since: optionalText('--since'),
      until: optionalText('--until'),
    }),
    run: ({ context: ctx, maintenance }, p) => {
      const now = ctx.clock.now();
      const from = p.since === undefined ? now - 86_400_000 : parseSince(p.since, now);
      const to = p.until === undefined ? now : parseSince(p.until, now);
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
  }),
  'test.max_page_count': defineOperation({
    // TEST ONLY: caps the database at its current size (a "full disk") or lifts the cap.
    testOnly: true,
    params: params({ pages: z.union([z.literal('current'), z.coerce.number()], { error: 'pages must be "current" or a number' }) }),
    run: ({ context: ctx }, p) => {
      const pages = p.pages === 'current' ? (ctx.db.raw.pragma('page_count', { simple: true }) as number) : p.pages;
      // The disk is full for the hot log too: its appends fail with ENOSPC until the cap is lifted.
      ctx.hot.simulateFullDisk(p.pages === 'current');
      return { max_page_count: ctx.db.raw.pragma(`max_page_count = ${Math.floor(pages)}`, { simple: true }) };
    },
  }),
};
