import { SluiceError, type Clock, type SluiceDatabase } from '../core/index.js';
import type { Reading, ReadingSink, WriteRequest } from '../ingest/index.js';
import type { Ledger } from '../ledger/index.js';
import type { Members } from './members.js';

export type PauseMode = 'no-share' | 'no-store';
export type PauseScope = { kind: 'household' } | { kind: 'room'; room: string } | { kind: 'device'; deviceId: string };

export interface Pause {
  id: number;
  scope: PauseScope;
  mode: PauseMode;
  /** ms */
  startedAt: number;
  /** ms; the pause ends by itself then */
  until: number;
  by: string | null;
  endedAt: number | null;
}

/** [PAUSE-1] Safety alarms are never muted: these metrics are stored and shared through any pause. */
export const SAFETY_METRICS: ReadonlySet<string> = new Set(['smoke_state', 'co_state', 'smoke', 'co', 'carbon_monoxide', 'water_leak', 'leak', 'test_in_progress']);

export const isSafetyMetric = (metric: string): boolean => SAFETY_METRICS.has(metric);

interface Row {
  id: number;
  scope_kind: 'household' | 'room' | 'device';
  scope: string;
  mode: PauseMode;
  started_at: number;
  until: number;
  by: string | null;
  ended_at: number | null;
}

const toPause = (r: Row): Pause => ({
  id: r.id,
  scope: r.scope_kind === 'household' ? { kind: 'household' } : r.scope_kind === 'room' ? { kind: 'room', room: r.scope } : { kind: 'device', deviceId: r.scope },
  mode: r.mode,
  startedAt: r.started_at,
  until: r.until,
  by: r.by,
  endedAt: r.ended_at,
});

/** Whether a pause covers a device (in its room, or the whole household). */
export function pauseCovers(p: Pause, deviceId: string, room: string | null): boolean {
  if (p.scope.kind === 'household') return true;
  if (p.scope.kind === 'device') return p.scope.deviceId === deviceId;
  return room !== null && p.scope.room === room;
}

/** The part of [start, end) not covered by any of the intervals; ms. Pure. */
export function uncoveredMs(start: number, end: number, intervals: ReadonlyArray<{ from: number; to: number }>): number {
  const clipped = intervals.map((i) => ({ from: Math.max(start, i.from), to: Math.min(end, i.to) })).filter((i) => i.to > i.from).sort((a, b) => a.from - b.from);
  let covered = 0;
  let cursor = start;
  for (const i of clipped) {
    const from = Math.max(cursor, i.from);
    if (i.to > from) {
      covered += i.to - from;
      cursor = i.to;
    }
  }
  return end - start - covered;
}

/** What a summary window may use of one device under no-share pauses. */
export interface Coverage {
  /** The fraction of the window not paused, 0–1. */
  fraction: number;
  /** Paused intervals inside the window (ms); readings in them are left out. */
  paused: Array<{ from: number; to: number }>;
  /** Below the threshold the whole window is withheld: nothing is sent, and no DP budget is spent. */
  withheld: boolean;
}

/**
 * [PAUSE-2] no-share coverage of one device over one window: pure, from the pauses that
 * were in effect. The summariser leaves the paused intervals out and says the fraction, or
 * withholds the window when too little of it is left.
 */
export function coverage(window: { start: number; end: number }, pauses: readonly Pause[], deviceId: string, room: string | null, threshold: number): Coverage {
  const paused = pauses
    .filter((p) => pauseCovers(p, deviceId, room))
    .map((p) => ({ from: Math.max(window.start, p.startedAt), to: Math.min(window.end, p.endedAt ?? p.until, p.until) }))
    .filter((i) => i.to > i.from)
    .sort((a, b) => a.from - b.from);
  const span = window.end - window.start;
  const fraction = span <= 0 ? 0 : uncoveredMs(window.start, window.end, paused) / span;
  return { fraction, paused, withheld: fraction < threshold };
}

/** The household's privacy pauses. They end by themselves at `until`; `resume` ends one early. */
export class Pauses {
  /** The unended no-store pauses (read once, dropped by start and resume). */
  private noStore: Pause[] | undefined;

  constructor(private readonly deps: { db: SluiceDatabase; ledger: Ledger; clock: Clock; members: Members }) {}

  /**
   * Starts a pause. With members, the member is named: a guest may pause only rooms or devices
   * that are theirs (no admin needed), minors likewise; adults and owners may pause anything.
   */
  start(input: { scope: PauseScope; mode: PauseMode; until: number; by?: string | undefined }): Pause {
    const now = this.deps.clock.now();
    if (!(input.until > now)) throw new SluiceError('SLUICE_ERR_USAGE', 'a pause must end in the future (--for 2h or --until TIME)');
    const by = input.by === undefined ? null : this.deps.members.require(input.by);
    if (by && (by.role === 'guest' || by.role === 'minor')) {
      const owned = (kind: 'device' | 'room', scope: string) => this.deps.members.assignments().some((a) => a.scopeKind === kind && a.scope === scope && a.member?.toLowerCase() === by.name.toLowerCase());
      const s = input.scope;
      const ok = s.kind === 'room' ? owned('room', s.room) : s.kind === 'device' ? owned('device', s.deviceId) || owned('room', this.deps.members.roomOf(s.deviceId) ?? '\0') : false;
      if (!ok) throw new SluiceError('SLUICE_ERR_MEMBER_NOT_ALLOWED', `${by.name} (${by.role}) may pause only their own room or devices`);
    }
    const scope = input.scope.kind === 'household' ? '' : input.scope.kind === 'room' ? input.scope.room : input.scope.deviceId;
    let id = 0;
    this.noStore = undefined;
    this.deps.db.tx(() => {
      id = Number(
        this.deps.db.raw.prepare('INSERT INTO consent_pauses (scope_kind, scope, mode, started_at, until, by, ended_at) VALUES (?, ?, ?, ?, ?, ?, NULL)').run(input.scope.kind, scope, input.mode, now, input.until, by?.name ?? null).lastInsertRowid,
      );
      this.deps.ledger.append({ kind: 'pause.started', vendor: null, policy: null, version: null, detail: { pause: id, scope: input.scope.kind, ...(scope ? { [input.scope.kind]: scope } : {}), mode: input.mode, until: new Date(input.until).toISOString(), by: by?.name ?? null } });
    });
    return this.get(id)!;
  }

  resume(id: number, by?: string): Pause {
    const p = this.get(id);
    const now = this.deps.clock.now();
    if (!p || p.endedAt !== null || p.until <= now) throw new SluiceError('SLUICE_ERR_PAUSE_UNKNOWN', `no running pause ${id}; list them with: sluice pause list`);
    const member = by === undefined ? null : this.deps.members.require(by).name;
    this.noStore = undefined;
    this.deps.db.tx(() => {
      this.deps.db.raw.prepare('UPDATE consent_pauses SET ended_at = ? WHERE id = ?').run(now, id);
      this.deps.ledger.append({ kind: 'pause.ended', vendor: null, policy: null, version: null, detail: { pause: id, by: member } });
    });
    return this.get(id)!;
  }

  get(id: number): Pause | null {
    const row = this.deps.db.raw.prepare<[number], Row>('SELECT * FROM consent_pauses WHERE id = ?').get(id);
    return row ? toPause(row) : null;
  }

  /** Pauses running now (`all`: also the ended ones, newest first). */
  list(opts: { all?: boolean } = {}): Pause[] {
    const now = this.deps.clock.now();
    const rows = opts.all
      ? this.deps.db.raw.prepare<[], Row>('SELECT * FROM consent_pauses ORDER BY id DESC').all()
      : this.deps.db.raw.prepare<[number], Row>('SELECT * FROM consent_pauses WHERE ended_at IS NULL AND until > ? ORDER BY id').all(now);
    return rows.map(toPause);
  }

  /** Pauses that overlap [start, end): what the summariser needs for a window's coverage. */
  during(start: number, end: number, mode: PauseMode = 'no-share'): Pause[] {
    return this.deps.db.raw
      .prepare<[number, number, string], Row>('SELECT * FROM consent_pauses WHERE started_at < ? AND COALESCE(ended_at, until) > ? AND (mode = ? OR mode = \'no-store\') ORDER BY id')
      .all(end, start, mode)
      .map(toPause);
  }

  /** Whether readings of a device may be stored at `at`: not while a no-store pause covers it (safety metrics excepted by the caller). */
  storing(deviceId: string, at: number): boolean {
    // Asked for every message, so the unended no-store pauses are held in memory: preparing and
    // running the query each time cost a quarter of the gateway's CPU under a QoS 1 burst. Only
    // start() and resume() change them while a gateway runs (the CLI and the dashboard reach
    // this instance through the admin socket and the app), and both drop the copy.
    this.noStore ??= this.deps.db.raw.prepare<[], Row>("SELECT * FROM consent_pauses WHERE mode = 'no-store' AND ended_at IS NULL").all().map(toPause);
    if (this.noStore.length === 0) return true;
    const open = this.noStore.filter((p) => p.until > at && p.startedAt <= at);
    if (open.length === 0) return true;
    const room = this.deps.members.roomOf(deviceId);
    return !open.some((p) => pauseCovers(p, deviceId, room));
  }
}

/**
 * [PAUSE-1] no-store at ingest: wraps the store's sink so readings from a paused scope are
 * never written — except safety alarms, which are never muted.
 */
export class PausingSink implements ReadingSink {
  constructor(private readonly deps: { sink: ReadingSink; pauses: Pick<Pauses, 'storing'>; clock: Clock }) {}

  submit(request: WriteRequest): Promise<void> {
    if (request.readings.length === 0 || this.deps.pauses.storing(request.deviceId, this.deps.clock.now())) return this.deps.sink.submit(request);
    // The delivery row and any quarantine entry still commit, so QoS 1 is acknowledged as before.
    return this.deps.sink.submit({ ...request, readings: request.readings.filter((r) => isSafetyMetric(r.metric)) });
  }

  /**
   * [PAUSE-3] Decided on the interpreted readings, so a safety alarm is recognised by the
   * profile's metric name (`alarm_1` mapped to `smoke`), and a bridged device by its own id.
   */
  holdsBack(deviceId: string, readings: readonly Reading[]): boolean {
    return !this.deps.pauses.storing(deviceId, this.deps.clock.now()) && !readings.some((r) => isSafetyMetric(r.metric));
  }
}
