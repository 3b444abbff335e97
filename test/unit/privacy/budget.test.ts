import { describe, expect, it } from 'vitest';
import { decideSpend, PrivacyAccountant, type BudgetLimits, type NewRelease } from '../../../src/privacy/index.js';
import { ledgerFixture } from '../../helpers/sharing-db.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-11-01T03:00:00Z');
const limits: BudgetLimits = { vendor: { epsilon: 1.0, perMs: 30 * DAY }, household: { epsilon: 2.0, perMs: 30 * DAY } };
const release = (vendor: string, day: number, epsilon = 0.25, policy = vendor): NewRelease => ({
  vendor,
  policy,
  window: { start: T0 + (day - 1) * DAY, end: T0 + day * DAY },
  epsilon,
  at: T0 + day * DAY,
  spec: '{"epsilon":0.25}',
});

describe('privacy budget accountant', () => {
  it('spends per vendor over a sliding period; the release that would exceed it is withheld with the next renewal', async () => {
    const f = await ledgerFixture();
    const acc = new PrivacyAccountant({ db: f.db });
    for (let d = 1; d <= 4; d++) expect(f.db.tx(() => acc.spend(release('acme', d), limits)).ok).toBe(true);
    const fifth = f.db.tx(() => acc.spend(release('acme', 5), limits));
    expect(fifth).toEqual({ ok: false, reason: 'budget', limit: 'vendor', spent: 1, cap: 1, nextRenewal: T0 + 1 * DAY + 30 * DAY });
    expect(acc.standing('acme', T0 + 5 * DAY, limits).vendor).toEqual({ spent: 1, left: 0, cap: 1, perMs: 30 * DAY, nextRenewal: T0 + 31 * DAY });
    // the oldest release leaves the period: exactly then one more fits, not before
    expect(acc.canSpend('acme', 0.25, T0 + 31 * DAY - 1, limits).ok).toBe(false);
    expect(acc.canSpend('acme', 0.25, T0 + 31 * DAY, limits).ok).toBe(true);
    // more than the cap at once never fits
    expect(acc.canSpend('acme', 1.5, T0 + 5 * DAY, limits)).toMatchObject({ ok: false, nextRenewal: null });
    f.db.close();
  });

  it('the household cap adds every vendor up (vendors may collude)', async () => {
    const f = await ledgerFixture();
    const acc = new PrivacyAccountant({ db: f.db });
    f.db.tx(() => {
      for (const v of ['acme', 'volt']) for (let d = 1; d <= 4; d++) expect(acc.spend(release(v, d), limits).ok).toBe(true);
    });
    const third = f.db.tx(() => acc.spend(release('gridco', 5), limits));
    expect(third).toMatchObject({ ok: false, limit: 'household', spent: 2, cap: 2, nextRenewal: T0 + 31 * DAY });
    expect(acc.standing('gridco', T0 + 5 * DAY, limits)).toMatchObject({ vendor: { spent: 0, left: 1 }, household: { spent: 2, left: 0 } });
    f.db.close();
  });

  it('no silent renewal: a new policy or version of the same vendor spends from the same budget; a re-run is not charged twice', async () => {
    const f = await ledgerFixture();
    const acc = new PrivacyAccountant({ db: f.db });
    f.db.tx(() => {
      for (let d = 1; d <= 3; d++) acc.spend(release('acme', d), limits);
      expect(acc.spend(release('acme', 3), limits).ok).toBe(true); // the same window again
    });
    expect(acc.standing('acme', T0 + 4 * DAY, limits).vendor.spent).toBe(0.75);
    // another policy file of the same vendor
    expect(f.db.tx(() => acc.spend(release('acme', 4, 0.25, 'acme-v2'), limits)).ok).toBe(true);
    expect(f.db.tx(() => acc.spend(release('acme', 5, 0.25, 'acme-v3'), limits))).toMatchObject({ ok: false, limit: 'vendor' });
    // the same window under a changed ε is a new release, and is charged
    expect(f.db.tx(() => acc.spend({ ...release('acme', 3, 0.5), at: T0 + 5 * DAY, spec: '{"epsilon":0.5}' }, limits))).toMatchObject({ ok: false });
    f.db.close();
  });

  it('records only inside the caller\'s transaction; stored noise is read back, first draw wins', async () => {
    const f = await ledgerFixture();
    const acc = new PrivacyAccountant({ db: f.db });
    expect(() => acc.spend(release('acme', 1), limits)).toThrow(/inside the transaction/);
    const w = release('acme', 1).window;
    expect(acc.storedNoise('acme', 'acme', w, 'energy/increase')).toBeNull();
    f.db.tx(() => acc.storeNoise('acme', 'acme', w, 'energy/increase', { sum: -17 }, T0));
    const again = f.db.tx(() => acc.storeNoise('acme', 'acme', w, 'energy/increase', { sum: 99 }, T0 + 1));
    expect(again).toEqual({ sum: -17 });
    expect(acc.storedNoise('acme', 'acme', w, 'energy/increase')).toEqual({ sum: -17 });
    f.db.close();
  });

  it('decideSpend is pure over the releases it is given (what replay uses)', () => {
    const rows = [release('acme', 1, 0.6), release('volt', 1, 0.9)];
    expect(decideSpend(rows, 'acme', 0.5, T0 + 2 * DAY, limits)).toMatchObject({ ok: false, limit: 'vendor', nextRenewal: T0 + 31 * DAY });
    expect(decideSpend(rows, 'volt', 0.1, T0 + 2 * DAY, limits)).toEqual({ ok: true, vendorSpent: 0.9, householdSpent: 1.5 });
    expect(decideSpend(rows, 'gridco', 0.6, T0 + 2 * DAY, limits)).toMatchObject({ ok: false, limit: 'household' });
    // ten releases of 0.1 fit a cap of 1.0 exactly
    const tenths = Array.from({ length: 9 }, (_, i) => release('acme', i + 1, 0.1));
    expect(decideSpend(tenths, 'acme', 0.1, T0 + 10 * DAY, limits).ok).toBe(true);
  });
});
