import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDataReleases } from '../../../src/app/index.js';
import { EventBus, silentLogger } from '../../../src/core/index.js';
import { lastClosedWindow } from '../../../src/policy/index.js';
import { DEFAULT_HOUSEHOLD_BUDGET, PrivacyAccountant } from '../../../src/privacy/index.js';
import { ReadingWriter } from '../../../src/store/index.js';
import { appFixture } from './fixture.js';

async function collector() {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/open`, bodies, close: () => new Promise((r) => server.close(r)) };
}

const policy = (url: string) =>
  ['version: 1', 'kind: open-data', 'vendor: energy-commons', `endpoint: ${url}`, 'purpose: Public weekly energy', 'expires: 2099-12-31', 'schedule: "0 4 * * 1"', 'share:', '  - devices: { kind: smart_plug }', '    metrics: [energy]', '    window: 7d', '    stats: [increase]', '    privacy: { epsilon: 0.5, clamp: [0, 2] }', ''].join('\n');

async function scene() {
  const f = await appFixture();
  const c = await collector();
  writeFileSync(join(f.context.config.policies_dir, 'open-energy.yaml'), policy(c.url));
  await f.app.call('devices.add', { id: 'plug-1', profile: 'smart-plug' });
  const window = lastClosedWindow(f.clock.now(), '7d', f.context.config.timezone);
  const writer = new ReadingWriter({ db: f.context.db, clock: f.clock, logger: silentLogger(), events: new EventBus(), options: { batchInterval: 0, batchSize: 1000, quarantineMaxEntries: 100, quarantineMaxBytes: 1 << 20 } });
  writer.start();
  const specs = f.context.profiles().get('smart-plug')!.metrics;
  const readings = Array.from({ length: 56 }, (_, i) => ({ metric: 'energy', component: '', value: 100 + i * 0.3, ts: window.start + i * 3 * 3_600_000 + 60_000, timeSource: 'device' as const }));
  await writer.submit({ deviceId: 'plug-1', specs, readings });
  await writer.stop();
  await f.app.call('policy.approve', { name: 'open-energy' });
  return { f, c, window, accountant: new PrivacyAccountant({ db: f.context.db }) };
}

describe('open-data releases spend the household cap through src/privacy', () => {
  it('a release that does not fit the household cap (spent by vendors) is withheld and nothing leaves', async () => {
    const { f, c, window, accountant } = await scene();
    try {
      // Two vendors have spent 1.8 of the household's 2.0 within the period.
      f.context.db.tx(() => {
        for (const vendor of ['acme-heating', 'volt'])
          accountant.spend({ vendor, policy: vendor, window, epsilon: 0.9, at: f.clock.now() - 86_400_000, spec: '{}' }, { vendor: { epsilon: 1, perMs: 30 * 86_400_000 }, household: DEFAULT_HOUSEHOLD_BUDGET });
      });
      const run = await openDataReleases(f.context, f.sharing).run('open-energy', window);
      expect(run.releases).toEqual([]);
      expect(run.withheld).toEqual([{ rule: 1, reason: 'budget', message: expect.stringContaining('household privacy budget') }]);
      expect(c.bodies).toEqual([]);
      const withheld = (await f.app.call('ledger.show')).filter((r) => r.kind === 'open-data.withheld');
      expect(withheld.map((r) => r.detail)).toEqual([expect.objectContaining({ reason: 'budget', limit: 'household', cap: 2 })]);
    } finally {
      await c.close();
      f.context.close();
    }
  });

  it('a release spends its ε once under the household cap; a re-run sends nothing new and spends nothing more', async () => {
    const { f, c, window, accountant } = await scene();
    try {
      const releases = openDataReleases(f.context, f.sharing);
      const first = await releases.run('open-energy', window);
      expect(first.releases.map((r) => r.state)).toEqual(['sent']);
      expect(c.bodies).toHaveLength(1);
      const limits = { vendor: DEFAULT_HOUSEHOLD_BUDGET, household: DEFAULT_HOUSEHOLD_BUDGET };
      expect(accountant.standing('open-data:open-energy', f.clock.now(), limits).household.spent).toBe(0.5);
      // A vendor now sees the open-data spend in the household cap it shares.
      expect(accountant.standing('acme-heating', f.clock.now(), limits)).toMatchObject({ vendor: { spent: 0 }, household: { spent: 0.5 } });
      const again = await releases.run('open-energy', window);
      expect(again.releases).toEqual(first.releases);
      expect(c.bodies).toHaveLength(1);
      expect(accountant.standing('open-data:open-energy', f.clock.now(), limits).household.spent).toBe(0.5);
      const body = JSON.parse(c.bodies[0]!) as { items: Array<{ value: number; epsilon: number }> };
      expect(body.items[0]!.epsilon).toBe(0.5);
    } finally {
      await c.close();
      f.context.close();
    }
  });
});
