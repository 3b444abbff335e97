import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PrivacyAccountant } from '../../../src/privacy/index.js';
import { POLICY, appFixture } from './fixture.js';

const NOISED = `${POLICY.replace('stats: [mean]', 'stats: [mean]\n    privacy: { epsilon: 0.5, clamp: [10, 30] }')}budget: { epsilon: 1, per: 30d }\n`;
const DAY = 86_400_000;
const LIMITS = { vendor: { epsilon: 1, perMs: 30 * DAY }, household: { epsilon: 2, perMs: 30 * DAY } };

describe('sharing.budget_alerts (the dashboard banners)', () => {
  it('says nothing for an exact policy, warns when a budget is near exhausted, and names releases withheld for budget', async () => {
    const f = await appFixture();
    try {
      expect(await f.app.call('sharing.budget_alerts')).toEqual([]);
      writeFileSync(join(f.context.config.policies_dir, 'acme.yaml'), NOISED);
      expect(await f.app.call('sharing.budget_alerts')).toEqual([]);

      const now = f.clock.now();
      const accountant = new PrivacyAccountant({ db: f.context.db });
      f.context.db.tx(() => {
        for (const d of [3, 2]) accountant.spend({ vendor: 'acme-heating', policy: 'acme', window: { start: now - d * DAY, end: now - (d - 1) * DAY }, epsilon: 0.4, at: now - d * DAY + 1000, spec: 's' }, LIMITS);
      });
      // 0.8 of 1.0 spent: less than a quarter left.
      expect(await f.app.call('sharing.budget_alerts')).toEqual([
        { policy: 'acme', vendor: 'acme-heating', kind: 'low', budget: 'vendor', withheld: 0, last_withheld: null, left: 0.2, cap: 1, next_renewal: '2026-12-20T13:00:01+01:00' },
      ]);

      f.context.db.tx(() => {
        f.sharing.ledger.append({ kind: 'disclosure.withheld', vendor: 'acme-heating', policy: 'acme', version: 'v', detail: { reason: 'budget', window: { start: now - DAY, end: now } } });
        f.sharing.ledger.append({ kind: 'disclosure.withheld', vendor: 'acme-heating', policy: 'acme', version: 'v', detail: { reason: 'too_few_samples' } });
      });
      const [alert] = await f.app.call('sharing.budget_alerts');
      expect(alert).toMatchObject({ policy: 'acme', kind: 'withheld', withheld: 1, last_withheld: '2026-11-23T13:00:00+01:00' });
    } finally {
      f.context.close();
    }
  });
});
