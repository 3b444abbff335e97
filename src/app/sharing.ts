import { join } from 'node:path';
import { Ledger, LEDGER_HEAD_FILE } from '../ledger/index.js';
import { PolicyBook, lastClosedWindow, type ApprovedPolicy } from '../policy/index.js';
import { dueWindows, WindowRecords, type WindowJob } from '../schedule/index.js';
import { Disclosures, Erasures, Outbox } from '../share/index.js';
import { normaliseVendor, policyWindowSizes, type PausedInterval } from '../summarise/index.js';
import { Terms } from '../terms/index.js';
import { ConsentRecords, Members, Pauses, coverage, isSafetyMetric } from '../consent/index.js';
import { maintenanceSettings, Rollups, WindowSource } from '../store/index.js';
import { ownValue, type TimeWindow } from '../core/index.js';
import type { GatewayContext } from './context.js';

/** The disclosure path's parts over one gateway context; built once per process, so every caller sees one book and one outbox. */
export interface Sharing {
  ledger: Ledger;
  book: PolicyBook;
  outbox: Outbox;
  /** Erasure requests to policies' deletion endpoints. */
  erasures: Erasures;
  disclosures: Disclosures;
  /** The household's members, their consent records and privacy pauses. */
  consent: { members: Members; records: ConsentRecords; pauses: Pauses };
  /** The household's IEEE 7012 terms with each vendor: nothing is produced or sent before a vendor accepts. */
  terms: Terms;
  /** sluice.yaml share.require_terms: false leaves the terms out of the disclosure path altogether (no proffer, no gate, no agreement field). */
  termsRequired: boolean;
  /** [PAUSE-2] the no-share pauses of a device's metric inside a window (none for safety alarms): every path that shares leaves them out. */
  pausedFor: (deviceId: string, metric: string, window: TimeWindow) => PausedInterval[];
}

export function buildSharing(ctx: GatewayContext): Sharing {
  const { db, clock, config } = ctx;
  const ledger = new Ledger({ db, clock, headFile: join(config.data_dir, LEDGER_HEAD_FILE) });
  const members = new Members({ db, ledger, clock });
  const records = new ConsentRecords({ db, ledger, clock, members, jurisdiction: 'unspecified', agreementOf: (vendor) => terms.agreementSha256(vendor) });
  const pauses = new Pauses({ db, ledger, clock, members });
  const book = new PolicyBook({
    db,
    ledger,
    clock,
    timezone: config.timezone,
    policiesDir: config.policies_dir,
    devices: () => ctx.registry.list(),
    profiles: ctx.profiles,
    consent: records,
    // An expiry (or a removed policy file) asks the vendor to erase in the transaction that records it.
    onStopped: (a, reason) => erasures.request(a, reason),
  });
  const terms: Terms = new Terms({
    db,
    ledger,
    book,
    clock,
    dataDir: config.data_dir,
    onAgreed: (vendor, sha256, seq, by) => records.agreed((v) => normaliseVendor(v) === normaliseVendor(vendor), sha256, seq, by),
  });
  const termsRequired = config.share.require_terms;
  const gate = termsRequired ? terms : undefined;
  const outbox = new Outbox({ db, ledger, book, clock, ...(gate ? { terms: gate } : {}) });
  const erasures: Erasures = new Erasures({ db, ledger, book, clock, timezone: config.timezone, dataDir: config.data_dir });
  // [PAUSE-1] safety alarms are shared through any pause; the summariser applies the coverage threshold from the approved defaults.
  const pausedFor = (deviceId: string, metric: string, window: TimeWindow): PausedInterval[] =>
    isSafetyMetric(metric) ? [] : coverage(window, pauses.during(window.start, window.end), deviceId, members.roomOf(deviceId), 0).paused;
  const disclosures = new Disclosures({
    db,
    ledger,
    book,
    outbox,
    queries: ctx.queries,
    readings: windowSourceOf(ctx),
    clock,
    events: ctx.events,
    timezone: config.timezone,
    dataDir: config.data_dir,
    ...(gate ? { terms: gate } : {}),
    pausedFor,
  });
  return { ledger, book, outbox, erasures, disclosures, consent: { members, records, pauses }, terms, termsRequired, pausedFor };
}

/** What summaries read: raw readings within raw retention, hourly rollups past it (the retention settings of sluice.yaml). */
export function windowSourceOf(ctx: GatewayContext): WindowSource {
  const settings = maintenanceSettings(ctx.config);
  // As data.ts's specResolver (not imported: data.ts imports the operation table, which imports this file).
  const specOf = (deviceId: string, metric: string) => {
    const profile = ctx.registry.get(deviceId)?.profile;
    const metrics = profile ? ctx.profiles().get(profile)?.metrics : undefined;
    return metrics ? ownValue(metrics, metric) : undefined;
  };
  const rollups = new Rollups({ db: ctx.db, timeZone: settings.timeZone, hold: settings.hold, specOf });
  return new WindowSource({ queries: ctx.queries, rollups, specOf, timeZone: settings.timeZone, hold: settings.hold, retention: settings });
}
/** Builds the job of an open-data policy (app/open-data.ts); without one, open-data policies are not scheduled at all. `maxWindows` overrides the catch-up bound (counting only). */
export type OpenDataJobBuilder = (ctx: GatewayContext, sharing: Sharing, name: string, approved: ApprovedPolicy, maxWindows?: number) => WindowJob;

/** One scheduled job per policy in force: its cron wakes the gateway; closed windows since approval are produced once each. */
export function policyJobs(ctx: GatewayContext, sharing: Sharing, openData?: OpenDataJobBuilder): WindowJob[] {
  const jobs: WindowJob[] = [];
  let statuses;
  try {
    statuses = sharing.book.refresh();
  } catch (err) {
    ctx.logger.error({ err }, 'cannot read the policies');
    return [];
  }
  for (const s of statuses) {
    const approved = s.inForce ? s.approved : null;
    if (approved) jobs.push(...jobsOf(ctx, sharing, s.name, approved, openData));
  }
  return jobs;
}

/** The jobs of one approved policy; with `count` (counting what is due, never run) the terms gate is left out and `maxWindows` replaces the catch-up bound. */
function jobsOf(ctx: GatewayContext, sharing: Sharing, name: string, approved: ApprovedPolicy, openData: OpenDataJobBuilder | undefined, count?: { maxWindows: number }): WindowJob[] {
  const { book, disclosures, terms, termsRequired } = sharing;
  const tz = ctx.config.timezone;
  const p = approved.effective.policy;
  const maxWindows = count?.maxWindows ?? ctx.config.schedule.max_catch_up;
  // [PRIV-OPEN-1] open data never takes the vendor path (no household id, no signature): its own release, noised and spent.
  if (p.kind === 'open-data') return openData ? [openData(ctx, sharing, name, approved, count?.maxWindows)] : [];
  // One job per window size the rules use (after the household floors): a 1h rule and a 1d rule each get their closed windows.
  return policyWindowSizes(approved.effective).map((size, i): WindowJob => ({
    // The smallest size keeps the job name older run records were written under.
    name: i === 0 ? `policy:${name}` : `policy:${name}:${size}`,
    wake: { cron: p.schedule, timezone: tz },
    // [TERMS-1] no window is due before the vendor accepts the household's terms; afterwards the missed ones catch up.
    dueWindows: (now, ran) =>
      !count && termsRequired && !terms.standing(p.vendor).ok
        ? []
        : dueWindows({ now, cron: p.schedule, timezone: tz, since: approved.approvedAt, windowAt: (fire) => lastClosedWindow(fire, size, tz), ran, maxWindows }),
    run: ({ window, markRun }) => {
      // The policy may have been revoked or expired since the jobs were listed: run() re-checks in its transaction.
      const standing = book.standing(name);
      if (!standing.inForce) {
        if (standing.reason === 'expired') book.recordExpiries();
        return;
      }
      disclosures.run(name, window, markRun);
    },
  }));
}

/** The windows of an approved policy that came due and were not produced: those its jobs will produce (oldest first) and those past the catch-up bound, which never will be. */
export interface CatchUp {
  windows: TimeWindow[];
  beyondBound: number;
}

/**
 * [CONSENT-6] What the scheduler will catch up for this approval, computed exactly as its jobs
 * compute due windows (since `approvedAt`, newest `schedule.max_catch_up`, minus run records).
 * The terms gate is left out: it delays these windows, it does not drop them.
 */
export function catchUpOf(ctx: GatewayContext, sharing: Sharing, name: string, approved: ApprovedPolicy, openData?: OpenDataJobBuilder): CatchUp {
  const records = new WindowRecords(ctx.db);
  const now = ctx.clock.now();
  const due = (maxWindows: number) => jobsOf(ctx, sharing, name, approved, openData, { maxWindows }).flatMap((j) => j.dueWindows(now, (w) => records.has(j.name, w)));
  const windows = due(ctx.config.schedule.max_catch_up).sort((a, b) => a.start - b.start || a.end - b.end);
  // The unbounded count is bounded by dueWindows' own limit on fire times examined.
  return { windows, beyondBound: Math.max(0, due(Number.MAX_SAFE_INTEGER).length - windows.length) };
}
