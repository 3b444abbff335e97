import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { policyJobs } from '../../../src/app/index.js';
import { WindowRecords } from '../../../src/schedule/index.js';
import type { StoredReading } from '../../../src/store/index.js';
import { appFixture, NOISY_POLICY as NOISY, novemberDay as W } from './fixture.js';

const H = 3_600_000;
const DAY = 24 * H;

const dayOf = (iso: string) => Number(iso.slice(8, 10));

type Fixture = Awaited<ReturnType<typeof appFixture>>;

/** Ana (owner) shares the living room with the plug; the policy needs every adult. */
async function household(): Promise<Fixture> {
  const f = await appFixture();
  writeFileSync(join(f.context.config.policies_dir, 'acme.yaml'), NOISY);
  await f.app.call('devices.add', { id: 'p1', profile: 'smart-plug' });
  vi.spyOn(f.context.queries, 'readings').mockImplementation((q) =>
    q.metric === 'energy' ? Array.from({ length: 7 }, (_, i) => ({ ts: (q.since ?? 0) + i * H, value: 100 + 1.5 * i }) as unknown as StoredReading) : [],
  );
  await f.app.call('members.add', { name: 'Ana', role: 'owner' });
  await f.app.call('members.assign', { room: 'living-room', shared: true, as: 'Ana' });
  await f.app.call('members.assign', { device: 'p1', room: 'living-room' });
  return f;
}

/** What the window scheduler does on a tick: every due window of every job, oldest first, recorded once. */
async function tick(f: Fixture): Promise<number> {
  const records = new WindowRecords(f.context.db);
  let ran = 0;
  for (const job of policyJobs(f.context, f.sharing)) {
    for (const window of job.dueWindows(f.clock.now(), (w) => records.has(job.name, w))) {
      await job.run({ window, markRun: () => void records.record(job.name, window, f.clock.now()) });
      ran++;
    }
  }
  return ran;
}

describe('the windows of a waiting period, when the last adult approves [CONSENT-6]', () => {
  it('are produced through the one disclosure path: the budget spends and withholds as for any window, and a summary held meanwhile leaves first', async () => {
    const f = await household();
    try {
      expect(await f.app.call('policy.approve', { name: 'acme', as: 'Ana' })).toMatchObject({ in_force: true });
      // The 22nd is queued while in force (ε 0.5 of 1 spent), then Ben moves in before it leaves.
      const held = await f.app.call('policy.run', { name: 'acme', window: W(22) });
      expect(held).toMatchObject({ state: 'queued' });
      await f.app.call('members.add', { name: 'Ben', role: 'adult', as: 'Ana' });

      // Four days on: the 23rd to the 26th came due while it waited; nothing of them exists, and the 22nd is held (its next try a lease away).
      f.clock.advance(4 * DAY);
      expect(f.sharing.outbox.claim(60_000, () => undefined)).toMatchObject({ kind: 'deferred', summaryId: held.summary_id });
      expect(await tick(f)).toBe(0);
      expect((await f.app.call('policy.summaries', { name: 'acme' })).map((s) => dayOf(s.window.start))).toEqual([22]);

      const approved = await f.app.call('policy.approve', { name: 'acme', as: 'Ben' });
      expect(approved).toMatchObject({ in_force: true, catch_up: { windows: 4, not_produced: 0, reason: null } });
      expect(await tick(f)).toBe(4);
      // Budget exactly as for a normal window: the 23rd fits, the 24th–26th are withheld (on the ledger, nothing queued).
      expect((await f.app.call('policy.summaries', { name: 'acme' })).map((s) => dayOf(s.window.start))).toEqual([22, 23]);
      const ledger = await f.app.call('ledger.show');
      expect(ledger.filter((r) => r.kind === 'disclosure.withheld').map((r) => [dayOf((r.detail.window as { start: string }).start), r.detail.reason])).toEqual([
        [24, 'budget'],
        [25, 'budget'],
        [26, 'budget'],
      ]);
      expect(ledger.filter((r) => r.kind === 'policy.approved').at(-1)!.detail).toMatchObject({ by: ['Ana', 'Ben'], catch_up: { windows: 4, from: '2026-11-23T00:00:00+01:00', to: '2026-11-27T00:00:00+01:00', not_produced: 0, held: 1 } });
      // A caught-up window is not due again.
      expect(await tick(f)).toBe(0);

      // The held summary leaves first, then the caught-up one: the vendor receives the windows in order.
      const order: number[] = [];
      for (let c = f.sharing.outbox.claim(60_000, () => undefined); c.kind === 'claimed'; c = f.sharing.outbox.claim(60_000, () => undefined)) {
        order.push(dayOf(new Date(f.sharing.outbox.get(c.claim.summaryId)!.windowStart + 12 * H).toISOString()));
        f.sharing.outbox.acknowledged(c.claim, 200);
      }
      expect(order).toEqual([22, 23]);
    } finally {
      f.context.close();
    }
  });

  it('are not produced under a new version approved to end the wait, and the ledger says how many are left out', async () => {
    const f = await household();
    try {
      await f.app.call('policy.approve', { name: 'acme', as: 'Ana' });
      await f.app.call('members.add', { name: 'Ben', role: 'adult', as: 'Ana' });
      f.clock.advance(3 * DAY);
      writeFileSync(join(f.context.config.policies_dir, 'acme.yaml'), NOISY.replace('Compare my energy use', 'Compare my energy use with similar homes'));
      expect(await f.app.call('policy.approve', { name: 'acme', as: 'Ana' })).toMatchObject({ in_force: false, waiting_for: ['Ben'] });
      const approved = await f.app.call('policy.approve', { name: 'acme', as: 'Ben' });
      expect(approved).toMatchObject({ in_force: true, catch_up: { windows: 0, not_produced: 3, reason: 'new-version' } });
      expect(await tick(f)).toBe(0);
      const row = (await f.app.call('ledger.show')).filter((r) => r.kind === 'policy.approved').at(-1)!;
      expect(row.detail).toMatchObject({ catch_up: { windows: 0, not_produced: 3, reason: 'new-version' } });
    } finally {
      f.context.close();
    }
  });

  it('end without an approval when the member who waited is removed: the same version catches up', async () => {
    const f = await household();
    try {
      await f.app.call('policy.approve', { name: 'acme', as: 'Ana' });
      await f.app.call('members.add', { name: 'Ben', role: 'adult', as: 'Ana' });
      f.clock.advance(2 * DAY);
      expect(await tick(f)).toBe(0);
      await f.app.call('members.remove', { name: 'Ben', as: 'Ana' });
      expect(await tick(f)).toBe(2);
    } finally {
      f.context.close();
    }
  });
});
