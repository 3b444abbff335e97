import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSluiceError } from '../../../src/core/index.js';
import { POLICY, appFixture } from './fixture.js';

// Hourly (3) + heating schedule (2) + climate (1) + three metrics together (1) + one device on its own (1) = 8: high.
const HOURLY = POLICY.replace('metrics: [temperature]\n    window: 1d', 'metrics: [temperature, humidity, setpoint_heat]\n    window: 1h');

describe('risk score in the app', () => {
  it('policy risk and explain give the level, every reason with its source, and the heuristic note', async () => {
    const f = await appFixture();
    try {
      await f.app.call('devices.add', { id: 't1', profile: 'thermostat' });
      const r = await f.app.call('policy.risk', { name: 'acme' });
      expect({ level: r.level, points: r.points, codes: r.reasons.map((x) => x.code) }).toEqual({ level: 'low', points: 3, codes: ['granularity.daily', 'class.climate', 'breakdown.per_device'] });
      for (const x of r.reasons) expect(x.source.length).toBeGreaterThan(10);
      expect(r.text).toMatch(/^Risk: low \(3 points\)\. This is a heuristic, not a probability/);
      expect(r.text).toContain('(source: Sluice heuristic');
      const e = await f.app.call('policy.explain', { name: 'acme' });
      expect(e.risk).toMatchObject({ level: 'low', points: 3 });
      expect(e.text).toContain('Risk: low (3 points). This is a heuristic, not a probability');
    } finally {
      f.context.close();
    }
  });

  it('a high-risk policy is approved only with --accept-risk high', async () => {
    const f = await appFixture();
    try {
      writeFileSync(join(f.context.config.policies_dir, 'acme.yaml'), HOURLY);
      await f.app.call('devices.add', { id: 't1', profile: 'thermostat' });
      expect(await f.app.call('policy.risk', { name: 'acme' })).toMatchObject({ level: 'high', points: 8 });
      const refused = await f.app.call('policy.approve', { name: 'acme' }).catch((e: unknown) => e);
      expect(isSluiceError(refused, 'SLUICE_ERR_POLICY_RISK_NOT_ACCEPTED')).toBe(true);
      expect((refused as Error).message).toMatch(/scores high risk \(8 points, a heuristic, not a probability\).*--accept-risk high/);
      expect((await f.app.call('policy.list'))[0]).toMatchObject({ in_force: false });
      await expect(f.app.call('policy.approve', { name: 'acme', accept_risk: 'medium' })).rejects.toMatchObject({ code: 'SLUICE_ERR_POLICY_RISK_NOT_ACCEPTED' });
      expect(await f.app.call('policy.approve', { name: 'acme', accept_risk: 'high' })).toMatchObject({ in_force: true });
    } finally {
      f.context.close();
    }
  });
});

const NOISED = `${POLICY.replace('stats: [mean]', 'stats: [mean]\n    privacy: { epsilon: 0.5, clamp: [10, 30] }')}budget: { epsilon: 1, per: 30d }\n`;

describe('privacy in the policy language', () => {
  it('policy check refuses noise on min, max and percentiles with the reason', async () => {
    const f = await appFixture();
    try {
      await f.app.call('devices.add', { id: 't1', profile: 'thermostat' });
      writeFileSync(join(f.context.config.policies_dir, 'acme.yaml'), NOISED.replace('stats: [mean]', 'stats: [mean, max, p95]'));
      const [check] = await f.app.call('policy.check', { name: 'acme' });
      expect(check).toMatchObject({ ok: false });
      expect(check!.problems).toContain('"max" is not offered with noise: the lowest or highest reading is one single event');
      expect(check!.problems).toContain('"p95" is not offered with noise: a percentile is one reading of the window');
      writeFileSync(join(f.context.config.policies_dir, 'acme.yaml'), NOISED);
      expect((await f.app.call('policy.check', { name: 'acme' }))[0]).toMatchObject({ ok: true });
    } finally {
      f.context.close();
    }
  });

  it('policy budget shows spent, left and renewal for the vendor and the household; noise lowers the risk', async () => {
    const f = await appFixture();
    try {
      await f.app.call('devices.add', { id: 't1', profile: 'thermostat' });
      writeFileSync(join(f.context.config.policies_dir, 'acme.yaml'), NOISED);
      expect(await f.app.call('policy.budget', { name: 'acme' })).toEqual({
        name: 'acme',
        vendor: 'acme-heating',
        noised: true,
        vendor_budget: { spent: 0, left: 1, cap: 1, per_days: 30, next_renewal: null },
        household_budget: { spent: 0, left: 2, cap: 2, per_days: 30, next_renewal: null },
      });
      const risk = await f.app.call('policy.risk', { name: 'acme' });
      expect({ level: risk.level, points: risk.points }).toEqual({ level: 'low', points: 0 });
      // Noise is added on the way out (test/unit/app/noise-release.test.ts), so such a policy can be approved.
      expect(await f.app.call('policy.approve', { name: 'acme' })).toMatchObject({ in_force: true });
      expect(risk.reasons.find((r) => r.code === 'mitigation.dp')).toMatchObject({ points: -3, text: expect.stringContaining('ε 0.5 per window') });
    } finally {
      f.context.close();
    }
  });
});

const BOLT = `version: 1
vendor: Bolt Energy
endpoint: https://bolt.example/v1
purpose: Compare my energy use
expires: 2026-12-31
schedule: "0 3 * * *"
secret_file: acme.key
share:
  - devices: { kind: smart_plug }
    metrics: [power]
    window: 1d
    stats: [mean]
`;

describe('coalitions the household declares', () => {
  it('vendors with no common series form no coalition; one account or a named partner links them, and an account adds its own reason', async () => {
    const f = await appFixture();
    try {
      const dir = f.context.config.policies_dir;
      await f.app.call('devices.add', { id: 't1', profile: 'thermostat' });
      await f.app.call('devices.add', { id: 'p1', profile: 'smart-plug' });
      writeFileSync(join(dir, 'bolt.yaml'), BOLT);
      const alone = await f.app.call('policy.risk', { name: 'acme' });
      expect(alone.coalitions).toEqual([]);
      expect(alone.reasons.map((r) => r.code)).not.toContain('linkability.account');

      writeFileSync(join(dir, 'acme.yaml'), POLICY.replace('secret_file: acme.key\n', 'secret_file: acme.key\naccount: My Acme login\n'));
      writeFileSync(join(dir, 'bolt.yaml'), BOLT.replace('secret_file: acme.key\n', 'secret_file: acme.key\naccount: my  acme LOGIN\n'));
      const shared = await f.app.call('policy.risk', { name: 'acme' });
      expect(shared.reasons.find((r) => r.code === 'linkability.account')).toMatchObject({ points: 2 });
      expect(shared.coalitions).toHaveLength(1);
      expect(shared.coalitions[0]).toMatchObject({ vendors: ['acme-heating', 'Bolt Energy'], links: ['acme-heating and Bolt Energy share an identity (such as an account)'] });
      expect(shared.coalitions[0]!.reasons.map((r) => r.code)).toEqual(expect.arrayContaining(['coalition.linked', 'linkability.account', 'class.consumption', 'class.climate']));
      expect(shared.text).toContain('Together, acme-heating, Bolt Energy:');

      writeFileSync(join(dir, 'acme.yaml'), POLICY);
      writeFileSync(join(dir, 'bolt.yaml'), BOLT.replace('secret_file: acme.key\n', 'secret_file: acme.key\npartners: [ACME-heating]\n'));
      const partner = await f.app.call('policy.risk', { name: 'acme' });
      expect(partner.coalitions.map((c) => c.links)).toEqual([['Bolt Energy names acme-heating as a partner']]);
      // Seen from bolt's side too, and a partner with no policy here links nothing.
      expect((await f.app.call('policy.risk', { name: 'bolt' })).coalitions).toHaveLength(1);
      writeFileSync(join(dir, 'bolt.yaml'), BOLT.replace('secret_file: acme.key\n', 'secret_file: acme.key\npartners: [Nobody Analytics]\n'));
      expect((await f.app.call('policy.risk', { name: 'acme' })).coalitions).toEqual([]);
    } finally {
      f.context.close();
    }
  });
});
