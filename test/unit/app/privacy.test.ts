import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { policyJobs } from '../../../src/app/index.js';
import { POLICY, appFixture } from './fixture.js';

const TWO_SIZES = `${POLICY}  - devices: { kind: thermostat }
    metrics: [temperature]
    window: 1h
    stats: [max]
`;

describe('privacy wiring in the app', () => {
  it('a policy with 1h and 1d rules gets one scheduled job per window size', async () => {
    const f = await appFixture();
    try {
      writeFileSync(join(f.context.config.policies_dir, 'acme.yaml'), TWO_SIZES);
      await f.app.call('devices.add', { id: 't1', profile: 'thermostat' });
      await f.app.call('policy.approve', { name: 'acme' });
      const jobs = policyJobs(f.context, f.sharing);
      expect(jobs.map((j) => j.name)).toEqual(['policy:acme', 'policy:acme:1d']);
      // Two days after approval, at 03:00 fires: the hourly job is due hourly windows, the daily job daily ones.
      const now = f.clock.now() + 2 * 86_400_000;
      const lengths = jobs.map((j) => [...new Set(j.dueWindows(now, () => false).map((w) => w.end - w.start))]);
      expect(lengths).toEqual([[3_600_000], [86_400_000]]);
    } finally {
      f.context.close();
    }
  });

  it('an empty window is an answer, not an error: preview and run say withheld and why', async () => {
    const f = await appFixture();
    try {
      await f.app.call('devices.add', { id: 't1', profile: 'thermostat' });
      await f.app.call('policy.approve', { name: 'acme' });
      const preview = await f.app.call('policy.preview', { name: 'acme' });
      expect(preview).toMatchObject({ state: 'withheld', body: null, reason: 'too-few-readings' });
      const run = await f.app.call('policy.run', { name: 'acme' });
      expect(run).toMatchObject({ summary_id: null, state: 'withheld', reason: 'too-few-readings' });
      expect((await f.app.call('ledger.show')).map((r) => r.kind).filter((k) => k.startsWith('disclosure.'))).toEqual(['disclosure.withheld']);
      expect(f.sharing.outbox.list()).toEqual([]);
    } finally {
      f.context.close();
    }
  });

  it('re-approval after a revocation shows the diff against the version approved last', async () => {
    const f = await appFixture();
    try {
      await f.app.call('devices.add', { id: 't1', profile: 'thermostat' });
      await f.app.call('policy.approve', { name: 'acme' });
      await f.app.call('policy.revoke', { name: 'acme' });
      expect((await f.app.call('policy.explain', { name: 'acme' })).changes).toEqual([
        're-approval after revocation; compared with the version approved last (2026-11-23T12:00:00.000Z):',
        '  no changes: the same version as approved last',
      ]);
      writeFileSync(join(f.context.config.policies_dir, 'acme.yaml'), POLICY.replace('stats: [mean]', 'stats: [mean, max]'));
      const approved = await f.app.call('policy.approve', { name: 'acme' });
      expect(approved.changes.slice(1)).toEqual(['- file:     stats: [mean]', '+ file:     stats: [mean, max]']);
    } finally {
      f.context.close();
    }
  });

  it('a key that goes missing shows as waiting in the list and is an error at check', async () => {
    const f = await appFixture();
    try {
      await f.app.call('devices.add', { id: 't1', profile: 'thermostat' });
      await f.app.call('policy.approve', { name: 'acme' });
      expect((await f.app.call('policy.list'))[0]).toMatchObject({ state_text: 'approved', signing_key: 'ok', queued: 0, retrying: 0, failed: 0 });
      const { unlinkSync } = await import('node:fs');
      unlinkSync(join(f.context.config.policies_dir, 'acme.key'));
      expect((await f.app.call('policy.list'))[0]).toMatchObject({ state_text: 'waiting: signing key missing', signing_key: 'missing' });
      const [check] = await f.app.call('policy.check', { name: 'acme' });
      expect(check).toMatchObject({ ok: false });
      expect(check!.problems).toMatch(/the signing key for acme-heating cannot be read from .*acme\.key/);
    } finally {
      f.context.close();
    }
  });

  it('a broken defaults.yaml fails every check with file:line:col and keeps the last good floors in this process', async () => {
    const f = await appFixture();
    try {
      await f.app.call('devices.add', { id: 't1', profile: 'thermostat' });
      const dir = f.context.config.policies_dir;
      writeFileSync(join(dir, 'defaults.yaml'), 'version: 1\nmin_samples: 4\n');
      expect((await f.app.call('policy.check', { name: 'acme' }))[0]).toMatchObject({ ok: true, problems: null });
      const good = (await f.app.call('policy.check', { name: 'acme' }))[0]!.version;
      writeFileSync(join(dir, 'defaults.yaml'), 'version: 1\nmin_samples: 0\n');
      const [check] = await f.app.call('policy.check', { name: 'acme' });
      expect(check).toMatchObject({ ok: false, version: good });
      expect(check!.problems).toMatch(/defaults\.yaml:2:14 SLUICE_ERR_POLICY_INVALID min_samples[\s\S]*the last good version stays in force/);
      expect((await f.app.call('policy.explain', { name: 'acme' })).text).toMatch(/at least 4 readings per window/);
    } finally {
      f.context.close();
    }
  });
});
