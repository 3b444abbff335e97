import { z } from 'zod';
import { SluiceError, type TimeWindow } from '../core/index.js';
import { isoInZone, lastClosedWindow, nextRuns, type WindowSize } from '../policy/index.js';
import { defineOperation, noParams, optionalText, params, requiredText, type AppContext } from './operation.js';

const DAY = 86_400_000;

/** One vendor's line on the dashboard's home page: what left the house for it lately. */
export interface VendorOverview {
  vendor: string;
  policies: string[];
  in_force: boolean;
  summaries_sent: number;
  bytes_sent: number;
  failed: number;
  queued: number;
  last_sent: string | null;
  next_send: string | null;
}

/** One point series of a device's metric for a chart: times in ms, values as numbers. */
export interface SeriesResult {
  device: string;
  metric: string;
  unit: string | null;
  range: string;
  ts: number[];
  values: number[];
  /** Before this time (ms) the points are hourly-rollup means, because raw readings were purged; null when all are raw. */
  rolled_up_before: number | null;
}

const BUCKET = { '24h': 3_600_000, '7d': 6 * 3_600_000, '30d': DAY } as const;

const RANGES = { '24h': DAY, '7d': 7 * DAY, '30d': 30 * DAY } as const;
type Range = keyof typeof RANGES;

function requireWeb(app: AppContext) {
  if (!app.web) throw new SluiceError('SLUICE_ERR_GATEWAY_NOT_RUNNING', 'no gateway is running on this data directory; start it (sluice start) and ask again');
  return app.web;
}

/** What the dashboard needs besides the operations the CLI already has. */
export const webOperations = {
  /** Mints a one-time login link held in the running gateway's memory. */
  'web.login_link': defineOperation({
    params: params({ as: optionalText('--as') }),
    run: (app, p) => {
      // [CONSENT-5] a member's own login: what they approve or veto on the dashboard is recorded under their name.
      const member = p.as === undefined ? null : app.sharing.consent.members.require(p.as).name;
      return { url: requireWeb(app).loginLink(member), member };
    },
  }),
  /** Per vendor, what left in the last `days` days (default 30) and when the next send is due. */
  'sharing.vendors': defineOperation({
    params: params({ days: z.number({ error: 'days must be a number' }).int().positive().max(3650).default(30) }),
    run: ({ context: ctx, sharing: { book, outbox } }, p): VendorOverview[] => {
      const now = ctx.clock.now();
      const since = now - p.days * DAY;
      const tz = ctx.config.timezone;
      const byVendor = new Map<string, VendorOverview>();
      const entry = (vendor: string) => {
        let v = byVendor.get(vendor);
        if (!v) {
          v = { vendor, policies: [], in_force: false, summaries_sent: 0, bytes_sent: 0, failed: 0, queued: 0, last_sent: null, next_send: null };
          byVendor.set(vendor, v);
        }
        return v;
      };
      const nextByVendor = new Map<string, number>();
      book.refresh();
      for (const name of book.names()) {
        const s = book.status(name);
        const e = s.current ?? s.approved?.effective;
        if (!e) continue;
        const v = entry(e.policy.vendor);
        v.policies.push(name);
        if (s.inForce && s.approved) {
          v.in_force = true;
          try {
            const next = nextRuns(s.approved.effective.policy.schedule, tz, now, 1)[0];
            const at = next ? Date.parse(next) : NaN;
            if (!Number.isNaN(at) && at < (nextByVendor.get(v.vendor) ?? Infinity)) nextByVendor.set(v.vendor, at);
          } catch {
            // an unreadable schedule has no next send; `policy check` names the problem
          }
        }
      }
      const lastByVendor = new Map<string, number>();
      for (const s of outbox.list()) {
        const v = entry(s.vendor);
        if (s.state === 'delivered' && s.finishedAt !== null && s.finishedAt >= since) {
          v.summaries_sent++;
          v.bytes_sent += s.body?.length ?? 0;
          if (s.finishedAt > (lastByVendor.get(s.vendor) ?? -Infinity)) lastByVendor.set(s.vendor, s.finishedAt);
        } else if (s.state === 'failed' && (s.finishedAt ?? now) >= since) v.failed++;
        else if (s.state !== 'delivered' && s.state !== 'failed' && s.finishedAt === null) v.queued++;
      }
      for (const v of byVendor.values()) {
        const last = lastByVendor.get(v.vendor);
        const next = nextByVendor.get(v.vendor);
        v.last_sent = last === undefined ? null : isoInZone(last, tz);
        v.next_send = next === undefined ? null : isoInZone(next, tz);
      }
      return [...byVendor.values()].sort((a, b) => a.vendor.localeCompare(b.vendor));
    },
  }),
  /** A device's metric over the last 24 h, 7 d or 30 d, for a chart. */
  'readings.series': defineOperation({
    params: params({
      id: requiredText('device id'),
      metric: requiredText('metric'),
      range: optionalText('range').transform((v, c): Range => {
        const r = v ?? '24h';
        if (Object.hasOwn(RANGES, r)) return r as Range;
        c.addIssue({ code: 'custom', message: `range must be one of ${Object.keys(RANGES).join(', ')}; got "${r}"` });
        return z.NEVER;
      }),
    }),
    run: ({ context: ctx, maintenance }, p): SeriesResult => {
      if (!ctx.registry.get(p.id)) throw new SluiceError('SLUICE_ERR_DEVICE_UNKNOWN', `no device "${p.id}" is registered`);
      const now = ctx.clock.now();
      const since = now - RANGES[p.range];
      const rows = ctx.queries.readings({ deviceId: p.id, metric: p.metric, since, limit: 20_000 });
      const points = rows.filter((r) => typeof r.value === 'number').sort((a, b) => a.ts - b.ts);
      // Raw readings end at the retention horizon; earlier buckets come from the hourly rollups.
      const rawFrom = points[0]?.ts ?? now;
      const rolled: Array<{ ts: number; value: number }> = [];
      let unit = points[0]?.unit ?? null;
      const step = BUCKET[p.range];
      for (let from = since - (since % step); from < rawFrom - step; from += step) {
        for (const r of maintenance.rollups.query({ deviceId: p.id, metric: p.metric, from, to: Math.min(from + step, rawFrom) })) {
          if (r.stats.count > 0 && typeof r.stats.mean === 'number') {
            rolled.push({ ts: from + step / 2, value: r.stats.mean });
            unit ??= r.unit;
          }
        }
      }
      return {
        device: p.id,
        metric: p.metric,
        unit,
        range: p.range,
        rolled_up_before: rolled.length > 0 ? rawFrom : null,
        ts: [...rolled.map((r) => r.ts), ...points.map((r) => r.ts)],
        values: [...rolled.map((r) => r.value), ...points.map((r) => r.value as number)],
      };
    },
  }),
};

/** Who receives what of one device, in words. */
export interface DeviceSharing {
  policy: string;
  vendor: string;
  in_force: boolean;
  /** e.g. "temperature, setpoint_heat as a daily mean, min, max". */
  what: string;
}

const WINDOW_WORDS: Record<string, string> = { '1h': 'hourly', '1d': 'daily', '1w': 'weekly', '7d': 'weekly' };

/** Per device: which policies select it, for whom, and what they take. */
export const deviceSharingOperations = {
  /** device id → online, offline or unknown (no status heard since the gateway started, or no gateway). */
  'devices.presence': defineOperation({
    params: noParams,
    run: ({ context: ctx, runtime }): Record<string, 'online' | 'offline' | 'unknown'> => {
      const heard = runtime?.().presence?.() ?? {};
      const out: Record<string, 'online' | 'offline' | 'unknown'> = {};
      for (const d of ctx.registry.list()) out[d.id] = Object.hasOwn(heard, d.id) ? (heard[d.id] ? 'online' : 'offline') : 'unknown';
      return out;
    },
  }),
  'devices.sharing': defineOperation({
    params: noParams,
    run: ({ sharing: { book } }): Record<string, DeviceSharing[]> => {
      const out: Record<string, DeviceSharing[]> = {};
      book.refresh();
      for (const name of book.names()) {
        const s = book.status(name);
        // What is in force is what the vendor receives; an unapproved file shows what it would take.
        const e = s.inForce && s.approved ? s.approved.effective : s.current;
        if (!e) continue;
        for (const rule of e.rules) {
          const what = `${rule.rule.metrics.join(', ')} as a ${WINDOW_WORDS[rule.rule.window] ?? rule.rule.window} ${rule.rule.stats.join(', ')}`;
          for (const device of rule.devices) {
            if (!Object.hasOwn(out, device)) out[device] = [];
            out[device]!.push({ policy: name, vendor: e.policy.vendor, in_force: s.inForce, what });
          }
        }
      }
      return out;
    },
  }),
};

/** The raw series that stays home beside what the vendor receives of it, per window. */
export interface OverlayResult {
  metric: string;
  unit: string | null;
  /** The statistic drawn for the vendor's side (the policy's first). */
  stat: string;
  raw: { ts: number[]; values: number[] };
  vendor: { ts: number[]; values: number[] };
}

/** For the Sharing page's chart. */
export const overlayOperations = {
  'policy.overlay': defineOperation({
    params: params({ name: requiredText('a policy NAME'), windows: z.number({ error: 'windows must be a number' }).int().min(1).max(31).default(7) }),
    run: ({ context: ctx, sharing: { book, disclosures } }, p): OverlayResult => {
      const s = book.status(p.name);
      const e = s.inForce && s.approved ? s.approved.effective : s.current;
      const rule = e?.rules[0];
      if (!e || !rule) throw new SluiceError('SLUICE_ERR_POLICY_INVALID', `policy ${p.name} has problems; see sluice policy check ${p.name}`);
      const tz = ctx.config.timezone;
      const metric = rule.rule.metrics[0]!;
      const stat = rule.rule.stats[0]!;
      const windows: TimeWindow[] = [];
      let t = ctx.clock.now();
      for (let i = 0; i < p.windows; i++) {
        const w = lastClosedWindow(t, rule.rule.window as WindowSize, tz);
        windows.unshift(w);
        t = w.start;
      }
      const vendor = { ts: [] as number[], values: [] as number[] };
      for (const w of windows) {
        let body: { items?: Array<{ rule?: number; metric?: string; stats?: Record<string, unknown> }> };
        try {
          body = JSON.parse(disclosures.preview(p.name, `${isoInZone(w.start, tz)}/${isoInZone(w.end, tz)}`).summary.body.toString('utf8')) as typeof body;
        } catch {
          continue; // a window the policy cannot summarise sends nothing
        }
        const item = body.items?.find((it) => it.rule === rule.index && it.metric === metric);
        const value = item?.stats ? ownNumber(item.stats, stat) : undefined;
        if (value === undefined) continue;
        vendor.ts.push(w.start, w.end - 1);
        vendor.values.push(value, value);
      }
      const raw = { ts: [] as number[], values: [] as number[] };
      const points = rule.devices
        .flatMap((id) => ctx.queries.readings({ deviceId: id, metric, since: windows[0]!.start, until: windows.at(-1)!.end, limit: 20_000 }))
        .filter((r) => typeof r.value === 'number')
        .sort((a, b) => a.ts - b.ts);
      for (const r of points) {
        raw.ts.push(r.ts);
        raw.values.push(r.value as number);
      }
      return { metric, unit: points[0]?.unit ?? null, stat, raw, vendor };
    },
  }),
};

function ownNumber(o: Record<string, unknown>, key: string): number | undefined {
  const v = Object.hasOwn(o, key) ? o[key] : undefined;
  return typeof v === 'number' ? v : undefined;
}
