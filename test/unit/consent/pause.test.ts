import { describe, expect, it } from 'vitest';
import { Members, Pauses, PausingSink, coverage, uncoveredMs, type Pause } from '../../../src/consent/index.js';
import type { WriteRequest } from '../../../src/ingest/index.js';
import { ledgerFixture } from '../../helpers/sharing-db.js';

const H = 3_600_000;

async function fixture() {
  const f = await ledgerFixture();
  const members = new Members({ db: f.db, ledger: f.ledger, clock: f.clock });
  members.add('Ana', 'owner', null);
  members.add('Gia', 'guest', 'Ana');
  members.assign('room', 'guest-room', 'Gia', 'Ana');
  members.place('guest-thermo', 'guest-room', 'Ana');
  members.place('guest-smoke', 'guest-room', 'Ana');
  const pauses = new Pauses({ db: f.db, ledger: f.ledger, clock: f.clock, members });
  return { ...f, members, pauses };
}

describe('privacy pause', () => {
  it('a guest pauses their own room without being an admin, but nothing else; the pause ends by itself', async () => {
    const f = await fixture();
    const now = f.clock.now();
    const p = f.pauses.start({ scope: { kind: 'room', room: 'guest-room' }, mode: 'no-store', until: now + 2 * H, by: 'Gia' });
    expect(p).toMatchObject({ mode: 'no-store', by: 'Gia', scope: { kind: 'room', room: 'guest-room' } });
    expect(() => f.pauses.start({ scope: { kind: 'room', room: 'living' }, mode: 'no-share', until: now + H, by: 'Gia' })).toThrow(/only their own room/);
    expect(() => f.pauses.start({ scope: { kind: 'household' }, mode: 'no-share', until: now + H, by: 'Gia' })).toThrow(/only their own room/);
    expect(f.pauses.storing('guest-thermo', now)).toBe(false);
    expect(f.pauses.storing('living-thermo', now)).toBe(true);
    f.clock.advance(2 * H);
    expect(f.pauses.list()).toEqual([]);
    expect(f.pauses.storing('guest-thermo', f.clock.now())).toBe(true);
    expect(f.ledger.rows().filter((r) => r.kind === 'pause.started').map((r) => r.detail.by)).toEqual(['Gia']);
    f.db.close();
  });

  it('resume ends a pause early, on the ledger', async () => {
    const f = await fixture();
    const p = f.pauses.start({ scope: { kind: 'device', deviceId: 'guest-thermo' }, mode: 'no-share', until: f.clock.now() + H, by: 'Gia' });
    f.clock.advance(60_000);
    expect(f.pauses.resume(p.id, 'Gia').endedAt).toBe(f.clock.now());
    expect(() => f.pauses.resume(p.id)).toThrow(/no running pause/);
    expect(f.ledger.rows().at(-1)).toMatchObject({ kind: 'pause.ended', detail: { pause: p.id, by: 'Gia' } });
    f.db.close();
  });

  it('no-store keeps readings of the paused scope out of the store, except safety alarms', async () => {
    const f = await fixture();
    f.pauses.start({ scope: { kind: 'room', room: 'guest-room' }, mode: 'no-store', until: f.clock.now() + H, by: 'Gia' });
    const written: WriteRequest[] = [];
    const sink = new PausingSink({ sink: { submit: async (r) => void written.push(r) }, pauses: f.pauses, clock: f.clock });
    const reading = (metric: string, value: number | string) => ({ metric, component: '', value, ts: f.clock.now(), timeSource: 'gateway' as const });
    await sink.submit({ deviceId: 'guest-thermo', readings: [reading('temperature', 21)], specs: {} });
    await sink.submit({ deviceId: 'guest-smoke', readings: [reading('smoke_state', 'alarm'), reading('battery', 90)], specs: {} });
    await sink.submit({ deviceId: 'living-thermo', readings: [reading('temperature', 20)], specs: {} });
    expect(written.map((w) => [w.deviceId, w.readings.map((r) => r.metric)])).toEqual([
      ['guest-thermo', []],
      ['guest-smoke', ['smoke_state']],
      ['living-thermo', ['temperature']],
    ]);
    f.db.close();
  });

  it('coverage: the unpaused fraction of a window, withheld below the threshold', () => {
    const w = { start: 0, end: 24 * H };
    const pause = (from: number, to: number, scope: Pause['scope'] = { kind: 'room', room: 'guest-room' }, endedAt: number | null = null): Pause => ({ id: 1, scope, mode: 'no-share', startedAt: from, until: to, by: null, endedAt });
    expect(coverage(w, [pause(6 * H, 12 * H)], 'guest-thermo', 'guest-room', 0.5)).toEqual({ fraction: 0.75, paused: [{ from: 6 * H, to: 12 * H }], withheld: false });
    // Overlapping pauses count once; one ended early counts only until it ended.
    const two = [pause(0, 12 * H), pause(6 * H, 30 * H, { kind: 'device', deviceId: 'guest-thermo' }, 18 * H)];
    expect(coverage(w, two, 'guest-thermo', 'guest-room', 0.5)).toMatchObject({ fraction: 0.25, withheld: true });
    expect(coverage(w, two, 'other', 'living', 0.5)).toMatchObject({ fraction: 1, paused: [], withheld: false });
    expect(uncoveredMs(0, 10, [{ from: -5, to: 3 }, { from: 2, to: 4 }, { from: 8, to: 20 }])).toBe(4);
  });
});

describe('PausingSink.holdsBack [PAUSE-3]', () => {
  it('holds back a paused device\'s message unless it carries a safety reading, by the interpreted metric name', async () => {
    const f = await fixture();
    const reading = (metric: string) => ({ metric, component: '', value: 1, ts: f.clock.now(), timeSource: 'gateway' as const });
    const sink = new PausingSink({ sink: { submit: async () => undefined }, pauses: f.pauses, clock: f.clock });
    expect(sink.holdsBack('guest-thermo', [reading('temperature')])).toBe(false);
    const p = f.pauses.start({ scope: { kind: 'room', room: 'guest-room' }, mode: 'no-store', until: f.clock.now() + H, by: 'Gia' });
    expect(sink.holdsBack('guest-thermo', [reading('temperature')])).toBe(true);
    // A message without readings (availability, an echo) is held back too.
    expect(sink.holdsBack('guest-thermo', [])).toBe(true);
    // The profile's name for the field counts: a device's alarm_1 mapped to smoke is a safety alarm.
    expect(sink.holdsBack('guest-smoke', [reading('smoke'), reading('battery')])).toBe(false);
    expect(sink.holdsBack('living-thermo', [reading('temperature')])).toBe(false);
    f.pauses.resume(p.id);
    expect(sink.holdsBack('guest-thermo', [reading('temperature')])).toBe(false);
    f.db.close();
  });
});
