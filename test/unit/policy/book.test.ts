import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DeviceProfile, DeviceRecord } from '../../../src/devices/index.js';
import { PolicyBook, describeChanges } from '../../../src/policy/index.js';
import { ledgerFixture } from '../../helpers/sharing-db.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const thermostat = { name: 'thermostat', file: 'x', version: 1, kind: 'thermostat', metrics: { temperature: { type: 'number', unit: '°C', counter: false, never_store: false }, humidity: { type: 'number', unit: '%', counter: false, never_store: false } } } as unknown as DeviceProfile;
const text = (metrics: string) =>
  `version: 1\nvendor: Acme\nendpoint: https://acme.example/x\npurpose: p\nexpires: 2099-01-01\nschedule: "0 3 * * *"\nsecret_env: K\nshare:\n  - devices: { kind: thermostat }\n    metrics: [${metrics}]\n    window: 1d\n    stats: [mean]\n`;

async function fixture() {
  const f = await ledgerFixture();
  const policiesDir = tmpDir('sluice-pol-');
  const devices: DeviceRecord[] = [{ id: 't1', role: 'device', profile: 'thermostat', baseTopic: null, via: null, source: null, simulated: false, createdAt: 0 }];
  writeFileSync(join(policiesDir, 'acme.yaml'), text('temperature'));
  const book = new PolicyBook({ db: f.db, ledger: f.ledger, clock: f.clock, timezone: 'Europe/Berlin', policiesDir, devices: () => devices, profiles: () => new Map([['thermostat', thermostat]]) });
  return { ...f, book, devices, policiesDir };
}

describe('PolicyBook', () => {
  it('default deny: an unapproved policy is not in force', async () => {
    const f = await fixture();
    expect(f.book.status('acme')).toMatchObject({ state: 'unapproved', inForce: false });
    expect(f.book.inForce('acme')).toBeNull();
    f.db.close();
  });

  it('a new matching device or an edited file: changed — awaiting approval, the approved version stays in force, noted once', async () => {
    const f = await fixture();
    const approved = f.book.approve('acme');
    expect(approved.effective.rules[0]!.devices).toEqual(['t1']);
    f.devices.push({ id: 't2', role: 'device', profile: 'thermostat', baseTopic: null, via: null, source: null, simulated: false, createdAt: 0 });
    f.devices.push({ id: 'sim', role: 'device', profile: 'thermostat', baseTopic: null, via: null, source: null, simulated: true, createdAt: 0 });
    expect(f.book.status('acme')).toMatchObject({ state: 'changed', inForce: true });
    expect(f.book.inForce('acme')!.effective.rules[0]!.devices).toEqual(['t1']);
    f.book.refresh();
    f.book.refresh();
    expect(f.ledger.rows().map((r) => r.kind)).toEqual(['policy.approved', 'policy.changed']);
    writeFileSync(join(f.policiesDir, 'acme.yaml'), text('temperature, humidity'));
    const changes = describeChanges(approved.effective, f.book.status('acme').current!);
    expect(changes).toEqual(['- file:     metrics: [temperature]', '+ file:     metrics: [temperature, humidity]', '+ rule 1: device t2 would now be included']);
    expect(() => f.book.approve('acme', approved.hash)).toThrow(/changed while it was being reviewed/);
    f.book.approve('acme');
    expect(f.book.status('acme')).toMatchObject({ state: 'approved' });
    f.db.close();
  });

  it('revocation and a removed file stop the policy, on the record', async () => {
    const f = await fixture();
    f.book.approve('acme');
    f.book.revoke('acme');
    expect(f.book.status('acme')).toMatchObject({ state: 'revoked', inForce: false });
    expect(() => f.book.revoke('acme')).toThrow(/already revoked/);
    f.book.approve('acme');
    unlinkSync(join(f.policiesDir, 'acme.yaml'));
    const [s] = f.book.refresh();
    expect(s).toMatchObject({ name: 'acme', state: 'revoked', inForce: false });
    expect(f.ledger.rows().map((r) => [r.kind, r.detail.reason])).toEqual([
      ['policy.approved', undefined],
      ['policy.revoked', undefined],
      ['policy.approved', undefined],
      ['policy.revoked', 'policy file removed'],
    ]);
    f.db.close();
  });

  it('standing() reads only: unapproved, in force, revoked, expired — and the ledger does not grow', async () => {
    const f = await fixture();
    const rows = () => f.ledger.rows().length;
    expect(f.book.standing('acme')).toEqual({ inForce: false, reason: 'unapproved', approved: null });
    const approved = f.book.approve('acme');
    expect(f.book.standing('acme')).toMatchObject({ inForce: true, approved: { hash: approved.hash } });
    f.book.revoke('acme');
    const afterRevoke = rows();
    expect(f.book.standing('acme')).toMatchObject({ inForce: false, reason: 'revoked' });
    expect(rows()).toBe(afterRevoke);

    writeFileSync(join(f.policiesDir, 'acme.yaml'), text('temperature').replace('2099-01-01', '2026-12-31'));
    f.book.approve('acme');
    f.clock.set(Date.parse('2027-01-05T00:00:00Z'));
    const before = rows();
    expect(f.book.standing('acme')).toMatchObject({ inForce: false, reason: 'expired' });
    expect(f.book.inForce('acme')).toBeNull();
    expect(f.book.standing('acme')).toMatchObject({ reason: 'expired', approved: { expiredAt: null } });
    expect(rows()).toBe(before);

    // The expiry goes on the record only when a step that acts on it says so, once.
    expect(f.book.recordExpiries()).toBe(1);
    expect(f.book.recordExpiries()).toBe(0);
    expect(f.ledger.rows().slice(before).map((r) => r.kind)).toEqual(['policy.expired']);
    f.db.close();
  });
});
