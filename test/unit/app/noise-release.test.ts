import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { StoredReading } from '../../../src/store/index.js';
import { appFixture, NOISY_POLICY as NOISY, novemberDay as W } from './fixture.js';

const H = 3_600_000;

type Fixture = Awaited<ReturnType<typeof appFixture>>;

/** A plug whose counter rises 1.5 kWh an hour for 6 hours of every window asked for: clamped at 2, the exact increase is 9 kWh. */
async function noisyHome(policy = NOISY): Promise<Fixture> {
  const f = await appFixture();
  writeFileSync(join(f.context.config.policies_dir, 'acme.yaml'), policy);
  await f.app.call('devices.add', { id: 'p1', profile: 'smart-plug' });
  vi.spyOn(f.context.queries, 'readings').mockImplementation((q) =>
    q.metric === 'energy' ? Array.from({ length: 7 }, (_, i) => ({ ts: (q.since ?? 0) + i * H, value: 100 + 1.5 * i }) as unknown as StoredReading) : [],
  );
  return f;
}

const ledgerOf = async (f: Fixture) => (await f.app.call('ledger.show')).filter((r) => r.kind.startsWith('disclosure.'));

describe('noise on the way out', () => {
  it('a noisy policy is approved; a run stores the noised body (= the preview before approval), spends ε once and writes ε, mechanism, clamp and sensitivity to the ledger', async () => {
    const f = await noisyHome();
    try {
      const explain = (await f.app.call('policy.explain', { name: 'acme' })).text;
      expect(explain).toContain('hides what happens in any one hour of your home');
      expect(explain).toContain('Acme Energy sees your daily energy ± 12 kWh, 19 times out of 20.');
      expect(explain).toContain('Budget: Acme Energy may receive at most ε 1 in any 30 days, and all vendors together ε 2 in any 30 days');
      const before = await f.app.call('policy.preview', { name: 'acme', window: W(20) });
      expect(before).toMatchObject({ basis: 'pending', state: 'summary' });
      expect(await f.app.call('policy.approve', { name: 'acme' })).toMatchObject({ in_force: true });
      const run = await f.app.call('policy.run', { name: 'acme', window: W(20) });
      expect(run).toMatchObject({ created: true, state: 'queued' });
      const stored = f.sharing.outbox.get(run.summary_id!)!;
      // [PRIV-14] the preview before approval is the stored body byte for byte, noise included.
      expect(stored.body!.toString('utf8')).toBe(before.body);
      expect((await f.app.call('policy.preview', { name: 'acme', window: W(20) })).body).toBe(before.body);
      const item = (JSON.parse(before.body!) as { items: Array<{ stats: { increase: number }; noise: unknown }> }).items[0]!;
      expect(item.noise).toEqual({ mechanism: 'discrete-laplace', epsilon: 0.5, clamp: [0, 2], unit: '1h', sensitivity: { increase: 2 } });
      // The stored draw explains the value exactly: 9 kWh + noise in 0.001 kWh steps, rounded to the 0.1 kWh floor.
      const noise = f.sharing.disclosures.privacy.storedNoise('acme energy', 'acme', { start: stored.windowStart, end: stored.windowEnd }, `${stored.version}/1/energy/increase`)!;
      expect(item.stats.increase).toBe(Number((Math.round((9000 + noise.sum!) / 100) / 10).toFixed(1)));

      const noised = (await ledgerOf(f)).filter((r) => r.kind === 'disclosure.noised');
      expect(noised).toHaveLength(1);
      expect(noised[0]).toMatchObject({ summary_id: run.summary_id });
      expect(noised[0]!.detail).toMatchObject({
        epsilon: 0.5,
        charged: true,
        vendor_spent: 0.5,
        vendor_cap: 1,
        household_spent: 0.5,
        household_cap: 2,
        body_sha256: stored.bodySha256,
        items: [{ rule: 1, metric: 'energy', stat: 'increase', epsilon: 0.5, mechanism: 'discrete-laplace', clamp: [0, 2], unit: '1h', sensitivity: { sum: 2 } }],
      });

      // Re-running the window draws nothing, spends nothing and writes nothing.
      expect(await f.app.call('policy.run', { name: 'acme', window: W(20) })).toMatchObject({ created: false, summary_id: run.summary_id });
      expect((await ledgerOf(f)).filter((r) => r.kind === 'disclosure.noised')).toHaveLength(1);
      expect(await f.app.call('policy.budget', { name: 'acme' })).toMatchObject({ vendor_budget: { spent: 0.5, left: 0.5, cap: 1 }, household_budget: { spent: 0.5, left: 1.5, cap: 2 } });
    } finally {
      f.context.close();
    }
  });

  it('a window over the vendor budget is withheld: nothing queued, the ledger says budget, policy list says so until a release goes again', async () => {
    const f = await noisyHome();
    try {
      await f.app.call('policy.approve', { name: 'acme' });
      for (const d of [18, 19]) expect(await f.app.call('policy.run', { name: 'acme', window: W(d) })).toMatchObject({ created: true });
      expect((await f.app.call('policy.list'))[0]).toMatchObject({ withheld: null });
      const third = await f.app.call('policy.run', { name: 'acme', window: W(20) });
      expect(third).toMatchObject({ summary_id: null, created: false, state: 'withheld', reason: 'budget' });
      expect(third.message).toMatch(/^withheld: budget — the Acme Energy budget has 1 of 1 ε spent in its period and this window needs 0\.5; nothing is sent \(releases fit again from 2026-12-23T13:00:00\+01:00\)$/);
      expect(f.sharing.outbox.list()).toHaveLength(2);
      const withheld = (await ledgerOf(f)).filter((r) => r.kind === 'disclosure.withheld');
      expect(withheld.map((r) => r.detail)).toEqual([
        { window: { start: '2026-11-20T00:00:00+01:00', end: '2026-11-21T00:00:00+01:00' }, reason: 'budget', limit: 'vendor', epsilon: 0.5, spent: 1, cap: 1, next_renewal: '2026-12-23T13:00:00+01:00' },
      ]);
      const row = (await f.app.call('policy.list'))[0]!;
      expect(row.state_text).toBe('approved — withheld: budget (vendor 1 of 1 ε spent; fits again 2026-12-23T13:00:00+01:00)');
      expect(row.withheld).toEqual({ reason: 'budget', limit: 'vendor', window: { start: '2026-11-20T00:00:00+01:00', end: '2026-11-21T00:00:00+01:00' }, epsilon: 0.5, spent: 1, cap: 1, next_renewal: '2026-12-23T13:00:00+01:00' });
      // A window already released is still not charged again, and withheld stays withheld.
      expect(await f.app.call('policy.run', { name: 'acme', window: W(18) })).toMatchObject({ created: false });
      expect(await f.app.call('policy.run', { name: 'acme', window: W(21) })).toMatchObject({ state: 'withheld', reason: 'budget' });
      // Thirty days on, the first release leaves the period: the next window goes, and the list no longer says withheld.
      f.clock.advance(30 * 24 * H + 1);
      expect(await f.app.call('policy.run', { name: 'acme', window: '2026-12-20/2026-12-21' })).toMatchObject({ created: true });
      expect((await f.app.call('policy.list'))[0]).toMatchObject({ withheld: null, state_text: 'approved' });
    } finally {
      f.context.close();
    }
  });

  it('replay shows the values a release would send (the same keyed draw), and spends nothing', async () => {
    const f = await noisyHome();
    try {
      const preview = await f.app.call('policy.preview', { name: 'acme', window: W(20) });
      // 4 days: the 20th is the first window replayed, so the simulated budget still has room for it.
      const replay = await f.app.call('policy.replay', { name: 'acme', days: '4' });
      const row = replay.windows.find((w) => w.window.start === '2026-11-20T00:00:00+01:00')!;
      const sent = JSON.parse(preview.body!) as { items: Array<{ stats: { increase: number } }> };
      expect(row.items[0]!.stats).toEqual(sent.items[0]!.stats);
      expect(row.bytes).toBe(Buffer.byteLength(preview.body!));
      expect(await f.app.call('policy.budget', { name: 'acme' })).toMatchObject({ vendor_budget: { spent: 0 }, household_budget: { spent: 0 } });
    } finally {
      f.context.close();
    }
  });

  it('the household cap in defaults.yaml holds across vendors and is shown by policy budget', async () => {
    const f = await noisyHome();
    try {
      const dir = f.context.config.policies_dir;
      writeFileSync(join(dir, 'defaults.yaml'), 'version: 1\nprivacy:\n  household_budget: { epsilon: 0.75, per: 7d }\n');
      writeFileSync(join(dir, 'bolt.yaml'), NOISY.replace('vendor: Acme Energy', 'vendor: Bolt').replace('budget: { epsilon: 1, per: 30d }\n', ''));
      writeFileSync(join(dir, 'bolt.key'), 'bolt-key\n', { mode: 0o600 });
      for (const name of ['acme', 'bolt']) await f.app.call('policy.approve', { name });
      expect(await f.app.call('policy.budget', { name: 'bolt' })).toMatchObject({ vendor_budget: { cap: 0.75, per_days: 7 }, household_budget: { spent: 0, cap: 0.75, per_days: 7 } });
      expect(await f.app.call('policy.run', { name: 'acme', window: W(20) })).toMatchObject({ created: true });
      const bolt = await f.app.call('policy.run', { name: 'bolt', window: W(20) });
      expect(bolt).toMatchObject({ state: 'withheld', reason: 'budget' });
      expect(bolt.message).toContain('the household budget has 0.5 of 0.75 ε spent');
      expect((await ledgerOf(f)).find((r) => r.kind === 'disclosure.withheld')).toMatchObject({ policy: 'bolt', detail: { limit: 'household', spent: 0.5, cap: 0.75 } });
      expect(await f.app.call('policy.budget', { name: 'acme' })).toMatchObject({ vendor_budget: { spent: 0.5, cap: 1 }, household_budget: { spent: 0.5, left: 0.25, cap: 0.75 } });
      expect((await f.app.call('policy.explain', { name: 'acme' })).text).toContain('noised policies together spend at most ε 0.75 per 7d');
    } finally {
      f.context.close();
    }
  });
});
