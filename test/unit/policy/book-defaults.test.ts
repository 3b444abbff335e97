import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DeviceProfile, DeviceRecord } from '../../../src/devices/index.js';
import { PolicyBook, describeChanges, explainPolicy } from '../../../src/policy/index.js';
import { ledgerFixture } from '../../helpers/sharing-db.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const thermostat = { name: 'thermostat', file: 'x', version: 1, kind: 'thermostat', metrics: { temperature: { type: 'number', unit: '°C', counter: false, never_store: false } } } as unknown as DeviceProfile;
const text = `version: 1\nvendor: Acme\nendpoint: https://acme.example/x\npurpose: p\nexpires: 2099-01-01\nschedule: "0 3 * * *"\nsecret_env: K\nshare:\n  - devices: { kind: thermostat }\n    metrics: [temperature]\n    window: 1d\n    stats: [mean]\n`;

async function fixture() {
  const f = await ledgerFixture();
  const policiesDir = tmpDir('sluice-pol-');
  const devices: DeviceRecord[] = [{ id: 't1', role: 'device', profile: 'thermostat', baseTopic: null, via: null, source: null, simulated: false, createdAt: 0 }];
  writeFileSync(join(policiesDir, 'acme.yaml'), text);
  const book = new PolicyBook({ db: f.db, ledger: f.ledger, clock: f.clock, timezone: 'Europe/Berlin', policiesDir, devices: () => devices, profiles: () => new Map([['thermostat', thermostat]]) });
  return { ...f, book, policiesDir };
}

describe('PolicyBook with policies/defaults.yaml', () => {
  it('a raised floor marks the approved policy changed with the diff; a broken file keeps the last good floors and says where', async () => {
    const f = await fixture();
    const approved = f.book.approve('acme');
    expect(approved.effective.rules[0]!.settings.minSamples).toBe(3);

    writeFileSync(join(f.policiesDir, 'defaults.yaml'), 'version: 1\nmin_samples: 5\n');
    const changed = f.book.status('acme');
    expect(changed).toMatchObject({ state: 'changed', inForce: true });
    expect(changed.current!.rules[0]!.settings.minSamples).toBe(5);
    expect(describeChanges(approved.effective, changed.current!)).toEqual(['~ household defaults: min_samples 3 → 5']);
    f.book.refresh();
    expect(f.ledger.rows().map((r) => r.kind)).toEqual(['policy.approved', 'policy.changed']);
    expect(explainPolicy(changed, 'Europe/Berlin', 0)).toMatch(/at least 5 readings per window \(household default\)/);

    writeFileSync(join(f.policiesDir, 'defaults.yaml'), 'version: 1\nmin_samples: 0\n');
    const d = f.book.defaults();
    expect(d.current!.defaults.min_samples).toBe(5);
    expect(d.error!.message).toMatch(/defaults\.yaml:2:14 SLUICE_ERR_POLICY_INVALID min_samples/);
    expect(d.error!.message).toMatch(/the last good version stays in force/);
    expect(f.book.status('acme').current!.hash).toBe(changed.current!.hash);
    f.db.close();
  });

  it('a defaults file broken from the start lets nothing new be approved', async () => {
    const f = await fixture();
    writeFileSync(join(f.policiesDir, 'defaults.yaml'), 'version: 1\nmin_window: 1m\n');
    expect(f.book.status('acme')).toMatchObject({ state: 'invalid', inForce: false });
    expect(() => f.book.approve('acme')).toThrow(/no policy can be approved until it loads/);
    f.db.close();
  });
});
