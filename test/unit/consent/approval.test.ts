import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConsentRecords, Members, recordHash } from '../../../src/consent/index.js';
import type { DeviceProfile, DeviceRecord } from '../../../src/devices/index.js';
import { PolicyBook } from '../../../src/policy/index.js';
import { ledgerFixture } from '../../helpers/sharing-db.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const thermostat = { name: 'thermostat', file: 'x', version: 1, kind: 'thermostat', metrics: { temperature: { type: 'number', unit: '°C', counter: false, never_store: false } } } as unknown as DeviceProfile;
const POLICY = `version: 1\nvendor: Acme\nendpoint: https://acme.example/x\npurpose: Tune my heating\nexpires: 2099-01-01\nschedule: "0 3 * * *"\nsecret_env: K\nshare:\n  - devices: { kind: thermostat }\n    metrics: [temperature]\n    window: 1d\n    stats: [mean]\n`;
const device = (id: string): DeviceRecord => ({ id, role: 'device', profile: 'thermostat', baseTopic: null, via: null, source: null, simulated: false, createdAt: 0 });

/** Two adults, a teenager and a guest; a thermostat in the living room (shared), one in the teen's room. */
async function household() {
  const f = await ledgerFixture();
  const policiesDir = tmpDir('sluice-pol-');
  writeFileSync(join(policiesDir, 'acme.yaml'), POLICY);
  const devices = [device('living'), device('teen-room')];
  let n = 0;
  const members = new Members({ db: f.db, ledger: f.ledger, clock: f.clock });
  const records = new ConsentRecords({ db: f.db, ledger: f.ledger, clock: f.clock, members, jurisdiction: 'DE', newId: () => `rec-${++n}` });
  const book = new PolicyBook({ db: f.db, ledger: f.ledger, clock: f.clock, timezone: 'Europe/Berlin', policiesDir, devices: () => devices, profiles: () => new Map([['thermostat', thermostat]]), consent: records });
  members.add('Ana', 'owner', null);
  members.add('Ben', 'adult', 'Ana');
  members.add('Tom', 'minor', 'Ana');
  members.add('Gia', 'guest', 'Ana');
  members.assign('device', 'teen-room', 'Tom', 'Ana');
  members.assign('room', 'guest-room', 'Gia', 'Ana');
  return { ...f, book, members, records, devices, policiesDir };
}

describe('approval by every adult it concerns', () => {
  it('waits for both adults (silence is never consent), then comes into force with both names on the ledger', async () => {
    const f = await household();
    expect(() => f.book.approve('acme')).toThrow(/--as NAME/);
    expect(f.book.status('acme')).toMatchObject({ state: 'unapproved', inForce: false, waitingFor: ['Ana', 'Ben'] });
    const first = f.book.approveAs('acme', { by: 'Ana' });
    expect(first).toMatchObject({ approved: null, waitingFor: ['Ben'] });
    expect(f.book.standing('acme')).toMatchObject({ inForce: false, reason: 'unapproved' });
    expect(() => f.book.approveAs('acme', { by: 'Gia' })).toThrow(/Gia is not asked/);
    const second = f.book.approveAs('acme', { by: 'ben' });
    expect(second.approved).not.toBeNull();
    expect(f.book.standing('acme').inForce).toBe(true);
    const decisions = f.ledger.rows().filter((r) => r.kind.startsWith('policy.'));
    expect(decisions.map((r) => [r.kind, r.detail.by])).toEqual([
      ['policy.consented', 'Ana'],
      ['policy.approved', ['Ana', 'ben']],
    ]);
    f.db.close();
  });

  it("one adult's veto stops a policy in force at once; it stays stopped until that adult approves", async () => {
    const f = await household();
    f.book.approveAs('acme', { by: 'Ana' });
    f.book.approveAs('acme', { by: 'Ben' });
    let dropped = false;
    const v = f.book.veto('acme', 'Ben', () => (dropped = true));
    expect(v.stopped).toBe(true);
    expect(dropped).toBe(true);
    expect(f.book.standing('acme')).toMatchObject({ inForce: false, reason: 'revoked' });
    expect(f.ledger.rows().filter((r) => r.kind === 'policy.revoked').map((r) => r.detail)).toEqual([{ by: 'Ben', veto: true }]);
    expect(f.book.status('acme')).toMatchObject({ vetoedBy: ['Ben'], waitingFor: ['Ana', 'Ben'] });
    // Ana alone cannot bring it back: the approvals before the veto are gone and Ben's veto stands.
    expect(f.book.approveAs('acme', { by: 'Ana' }).approved).toBeNull();
    expect(() => f.book.veto('acme', 'Gia')).toThrow(/does not concern them/);
    expect(f.book.approveAs('acme', { by: 'Ben' }).approved).not.toBeNull();
    f.db.close();
  });

  it("a minor's data needs one adult, and the minor gets a record of their own", async () => {
    const f = await household();
    f.devices.splice(0, 1); // only the teen's thermostat
    expect(f.book.status('acme').waitingFor).toEqual(['one of Ana, Ben']);
    const r = f.book.approveAs('acme', { by: 'Ben' });
    expect(r.approved).not.toBeNull();
    expect(f.records.list().map((x) => [x.subject, x.state])).toEqual([['Tom', 'dpv:ConsentGiven']]);
    expect(() => f.book.approveAs('acme', { by: 'Tom' })).toThrow(/Tom is not asked/);
    f.db.close();
  });

  it('every decision updates one record per data subject, each version hashed onto the ledger', async () => {
    const f = await household();
    f.book.approveAs('acme', { by: 'Ana' });
    f.book.approveAs('acme', { by: 'Ben' });
    f.book.revoke('acme', undefined, 'Ana');
    const recs = f.records.list();
    expect(recs.map((r) => [r.subject, r.state])).toEqual([
      ['Ana', 'dpv:ConsentWithdrawn'],
      ['Ben', 'dpv:ConsentWithdrawn'],
      ['Tom', 'dpv:ConsentWithdrawn'],
    ]);
    const ana = recs[0]!.record;
    expect(ana.history.map((h) => [h.event, h.state, h.by])).toEqual([
      ['consented', 'dpv:ConsentRequested', 'Ana'],
      ['given', 'dpv:ConsentGiven', 'Ben'],
      ['revoked', 'dpv:ConsentWithdrawn', 'Ana'],
    ]);
    expect(ana).toMatchObject({ controller: { id: 'Acme' }, legal_basis: 'dpv:Consent', personal_data_categories: ['sluice:IndoorClimate'], purposes: [{ iri: 'dpv:ServiceOptimisation' }] });
    const bound = f.ledger.rows().filter((r) => r.kind === 'consent.recorded' && r.detail.record_id === ana.record_id).at(-1)!;
    expect(bound.detail.record_sha256).toBe(recordHash(ana));
    expect(bound.detail.record_sha256).toBe(recs[0]!.recordSha256);
    expect(f.records.kantara(ana.record_id)).toMatchObject({ version: 'KI-CR-v1.1.0', piiPrincipalId: 'Ana', consentReceiptID: ana.record_id, jurisdiction: 'DE', 'x-sluice-state': 'dpv:ConsentWithdrawn' });
    f.db.close();
  });

  it('without members, one approval by the household, as before, with a household record', async () => {
    const f = await ledgerFixture();
    const policiesDir = tmpDir('sluice-pol-');
    writeFileSync(join(policiesDir, 'acme.yaml'), POLICY);
    const members = new Members({ db: f.db, ledger: f.ledger, clock: f.clock });
    const records = new ConsentRecords({ db: f.db, ledger: f.ledger, clock: f.clock, members, jurisdiction: 'DE' });
    const book = new PolicyBook({ db: f.db, ledger: f.ledger, clock: f.clock, timezone: 'Europe/Berlin', policiesDir, devices: () => [device('t1')], profiles: () => new Map([['thermostat', thermostat]]), consent: records });
    book.approve('acme');
    expect(records.list().map((r) => [r.subject, r.state])).toEqual([['household', 'dpv:ConsentGiven']]);
    f.db.close();
  });
});

describe('a member added after a policy came into force', () => {
  it('is asked: the policy stops producing and sending until they approve, and the earlier approvals still count', async () => {
    const f = await household();
    f.book.approveAs('acme', { by: 'Ana' });
    f.book.approveAs('acme', { by: 'Ben' });
    expect(f.book.standing('acme').inForce).toBe(true);
    // Cleo moves in: the living room is a shared space, so the policy concerns her now.
    f.members.add('Cleo', 'adult', 'Ana');
    expect(f.book.standing('acme')).toMatchObject({ inForce: false, reason: 'waiting', waitingFor: ['Cleo'] });
    expect(f.book.status('acme')).toMatchObject({ state: 'approved', inForce: false, waitingFor: ['Cleo'] });
    expect(f.book.inForce('acme')).toBeNull();
    // Her approval alone brings it back: Ana's and Ben's approvals of the same version stand.
    const r = f.book.approveAs('acme', { by: 'Cleo' });
    expect(r.approved).not.toBeNull();
    expect(f.book.standing('acme').inForce).toBe(true);
    expect(f.ledger.rows().filter((x) => x.kind === 'policy.approved').at(-1)!.detail.by).toEqual(['Ana', 'Ben', 'Cleo']);
    expect(f.records.list({ subject: 'Cleo' }).map((x) => x.state)).toEqual(['dpv:ConsentGiven']);
    f.db.close();
  });

  it('a device of the policy given to a member later makes it wait for that member', async () => {
    const f = await household();
    f.book.approveAs('acme', { by: 'Ana' });
    f.book.approveAs('acme', { by: 'Ben' });
    // The living-room thermostat becomes the guest's (it moves to her room): her data now, her say.
    f.members.assign('device', 'living', 'Gia', 'Ana');
    expect(f.book.standing('acme')).toMatchObject({ inForce: false, reason: 'waiting', waitingFor: ['Gia'] });
    expect(f.book.status('acme').waitingFor).toEqual(['Gia']);
    f.book.approveAs('acme', { by: 'Gia' });
    expect(f.book.standing('acme').inForce).toBe(true);
    f.db.close();
  });

  it('a policy the household approved before it named members waits for the adults once they are named', async () => {
    const f = await ledgerFixture();
    const policiesDir = tmpDir('sluice-pol-');
    writeFileSync(join(policiesDir, 'acme.yaml'), POLICY);
    const members = new Members({ db: f.db, ledger: f.ledger, clock: f.clock });
    const records = new ConsentRecords({ db: f.db, ledger: f.ledger, clock: f.clock, members, jurisdiction: 'DE' });
    const book = new PolicyBook({ db: f.db, ledger: f.ledger, clock: f.clock, timezone: 'Europe/Berlin', policiesDir, devices: () => [device('living')], profiles: () => new Map([['thermostat', thermostat]]), consent: records });
    book.approve('acme');
    expect(book.standing('acme').inForce).toBe(true);
    members.add('Ana', 'owner', null);
    expect(book.standing('acme')).toMatchObject({ reason: 'waiting', waitingFor: ['Ana'] });
    expect(book.approveAs('acme', { by: 'Ana' }).approved).not.toBeNull();
    expect(book.standing('acme').inForce).toBe(true);
    f.db.close();
  });
});
