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
