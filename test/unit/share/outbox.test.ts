import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConsentRecords, Members } from '../../../src/consent/index.js';
import { EventBus } from '../../../src/core/index.js';
import type { DeviceProfile } from '../../../src/devices/index.js';
import { PolicyBook } from '../../../src/policy/index.js';
import { Disclosures, Outbox, backoffDelay, parseRetryAfter, vendorKey } from '../../../src/share/index.js';
import { StoreQueries } from '../../../src/store/index.js';
import { ledgerFixture } from '../../helpers/sharing-db.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const TZ = 'Europe/Berlin';
const thermostat = { name: 'thermostat', file: 'x', version: 1, kind: 'thermostat', metrics: { temperature: { type: 'number', unit: '°C', counter: false, never_store: false } } } as unknown as DeviceProfile;

const yesterday = { start: Date.parse('2026-11-21T23:00:00Z'), end: Date.parse('2026-11-22T23:00:00Z') };

async function fixture(expires = '2026-11-30') {
  const f = await ledgerFixture(Date.parse('2026-11-23T12:00:00Z'));
  const policiesDir = tmpDir('sluice-pol-');
  writeFileSync(
    join(policiesDir, 'acme.yaml'),
    `version: 1\nvendor: Acme\nendpoint: https://acme.example/x\npurpose: p\nexpires: ${expires}\nschedule: "0 3 * * *"\nsecret_env: ACME_KEY\nshare:\n  - devices: { kind: thermostat }\n    metrics: [temperature]\n    window: 1d\n    stats: [mean]\n`,
  );
  const book = new PolicyBook({
    db: f.db,
    ledger: f.ledger,
    clock: f.clock,
    timezone: TZ,
    policiesDir,
    devices: () => [{ id: 't1', role: 'device', profile: 'thermostat', baseTopic: null, via: null, source: null, simulated: false, createdAt: 0 }],
    profiles: () => new Map([['thermostat', thermostat]]),
  });
  const outbox = new Outbox({ db: f.db, ledger: f.ledger, book, clock: f.clock });
  // Three readings in yesterday's window: the household floor (3) lets them leave as a summary.
  const queries = { readings: () => [0, 1, 2].map((i) => ({ ts: yesterday.start + i * 3_600_000, value: 20 + i })) } as unknown as StoreQueries;
  const disclosures = new Disclosures({ db: f.db, ledger: f.ledger, book, outbox, queries, clock: f.clock, events: new EventBus(), timezone: TZ, dataDir: f.dir });
  return { ...f, book, outbox, disclosures, policiesDir };
}

describe('outbox claim', () => {
  it('records the attempt with the body hash in the claim transaction', async () => {
    const f = await fixture();
    f.book.approve('acme');
    const run = f.disclosures.run('acme', yesterday);
    const outcome = f.outbox.claim(1000, () => undefined);
    expect(outcome.kind).toBe('claimed');
    if (outcome.kind !== 'claimed') return;
    expect(outcome.claim.summaryId).toBe(run.summaryId);
    const attempted = f.ledger.rows().at(-1)!;
    expect(attempted).toMatchObject({ kind: 'disclosure.attempted', summaryId: run.summaryId, detail: { body_sha256: outcome.claim.bodySha256, attempt: 1 } });
    // Leased: not claimable again until the lease ends.
    expect(f.outbox.claim(1000, () => undefined).kind).toBe('none');
    f.clock.advance(1000);
    expect(f.outbox.claim(1000, () => undefined)).toMatchObject({ kind: 'claimed', claim: { attempt: 2, body: outcome.claim.body } });
    f.db.close();
  });

  it('an expired policy: the queued summary is deleted at claim time, never sent, and the expiry is on the ledger once', async () => {
    const f = await fixture('2026-11-23');
    f.book.approve('acme');
    f.disclosures.run('acme', yesterday);
    f.clock.set(Date.parse('2026-11-23T23:00:00Z')); // midnight in Berlin: the last day is over
    expect(f.outbox.claim(1000, () => undefined)).toMatchObject({ kind: 'dropped', reason: 'expired' });
    expect(f.outbox.claim(1000, () => undefined).kind).toBe('none');
    expect(f.ledger.rows().map((r) => r.kind)).toEqual(['policy.approved', 'policy.expired', 'disclosure.dropped']);
    expect(f.outbox.list()[0]).toMatchObject({ state: 'dropped', body: null });
    expect(() => f.disclosures.run('acme', { start: yesterday.start + 86_400_000, end: yesterday.end + 86_400_000 })).toThrow(/has expired/);
    expect(f.book.status('acme').state).toBe('expired');
    f.db.close();
  });

  it('a missing signing key defers the item without an attempt on the ledger', async () => {
    const f = await fixture();
    f.book.approve('acme');
    f.disclosures.run('acme', yesterday);
    const outcome = f.outbox.claim(1000, (policy) => vendorKey(policy.effective.policy, f.dir, {}));
    expect(outcome).toMatchObject({ kind: 'deferred', error: { code: 'SLUICE_ERR_SECRET_MISSING' } });
    expect(f.ledger.rows().map((r) => r.kind)).toEqual(['policy.approved']);
    expect(f.outbox.list()[0]).toMatchObject({ state: 'queued', attempts: 0, lastError: expect.stringContaining('ACME_KEY') });
    f.db.close();
  });
});

describe('backoff', () => {
  it('doubles from the initial delay up to the cap, minus up to the jitter fraction', () => {
    const o = { backoffInitial: 100, backoffMax: 1000, backoffJitter: 0.5 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, o, () => 0))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(3, o, () => 1)).toBe(200);
    expect(backoffDelay(3, { ...o, backoffJitter: 0 }, Math.random)).toBe(400);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-23T12:00:00Z');
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 12:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('a window with nothing to send', () => {
  it('queues nothing, sends nothing, and the ledger says the window was considered and why', async () => {
    const f = await ledgerFixture(Date.parse('2026-11-23T12:00:00Z'));
    const policiesDir = tmpDir('sluice-pol-');
    writeFileSync(
      join(policiesDir, 'acme.yaml'),
      `version: 1\nvendor: Acme\nendpoint: https://acme.example/x\npurpose: p\nexpires: 2099-01-01\nschedule: "0 3 * * *"\nsecret_env: ACME_KEY\nshare:\n  - devices: { kind: thermostat }\n    metrics: [temperature]\n    window: 1d\n    stats: [mean]\n    min_samples: 1\n`,
    );
    const devices = () => [{ id: 't1', role: 'device', profile: 'thermostat', baseTopic: null, via: null, source: null, simulated: false, createdAt: 0 }] as never;
    const book = new PolicyBook({ db: f.db, ledger: f.ledger, clock: f.clock, timezone: TZ, policiesDir, devices, profiles: () => new Map([['thermostat', thermostat]]) });
    const outbox = new Outbox({ db: f.db, ledger: f.ledger, book, clock: f.clock });
    const queries = { readings: () => [{ ts: yesterday.start + 3_600_000, value: 21.37 }] } as unknown as StoreQueries;
    const disclosures = new Disclosures({ db: f.db, ledger: f.ledger, book, outbox, queries, clock: f.clock, events: new EventBus(), timezone: TZ, dataDir: f.dir });
    book.approve('acme');
    expect(disclosures.run('acme', yesterday)).toMatchObject({ summaryId: null, created: false, state: 'withheld' });
    expect(outbox.list()).toEqual([]);
    expect(f.ledger.rows().at(-1)).toMatchObject({ kind: 'disclosure.withheld', detail: { reason: 'too-few-readings', omitted: [{ rule: 1, metric: 'temperature', samples: 1, min_samples: 3 }] } });
    expect(() => disclosures.preview('acme', '2026-11-22/2026-11-23')).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_NOTHING_TO_SEND' }));
    f.db.close();
  });
});

describe('a member the policy comes to concern', () => {
  it('holds a queued summary unsent (deferred, not dropped) until they approve, then it is claimed', async () => {
    const f = await fixture();
    const members = new Members({ db: f.db, ledger: f.ledger, clock: f.clock });
    const records = new ConsentRecords({ db: f.db, ledger: f.ledger, clock: f.clock, members, jurisdiction: 'DE' });
    const book = new PolicyBook({
      db: f.db,
      ledger: f.ledger,
      clock: f.clock,
      timezone: TZ,
      policiesDir: f.policiesDir,
      devices: () => [{ id: 't1', role: 'device', profile: 'thermostat', baseTopic: null, via: null, source: null, simulated: false, createdAt: 0 }],
      profiles: () => new Map([['thermostat', thermostat]]),
      consent: records,
    });
    const outbox = new Outbox({ db: f.db, ledger: f.ledger, book, clock: f.clock });
    const queries = { readings: () => [0, 1, 2].map((i) => ({ ts: yesterday.start + i * 3_600_000, value: 20 + i })) } as unknown as StoreQueries;
    const disclosures = new Disclosures({ db: f.db, ledger: f.ledger, book, outbox, queries, clock: f.clock, events: new EventBus(), timezone: TZ, dataDir: f.dir });
    book.approve('acme');
    disclosures.run('acme', yesterday);
    members.add('Ana', 'owner', null);
    const held = outbox.claim(1000, () => undefined);
    expect(held).toMatchObject({ kind: 'deferred', error: { code: 'SLUICE_ERR_POLICY_WAITING_FOR_MEMBER' } });
    expect(outbox.list()[0]).toMatchObject({ state: 'queued' });
    expect(() => disclosures.run('acme', { start: yesterday.start - 86_400_000, end: yesterday.start })).toThrow(/waiting for Ana/);
    book.approveAs('acme', { by: 'Ana' });
    f.clock.advance(1000);
    expect(outbox.claim(1000, () => undefined).kind).toBe('claimed');
    f.db.close();
  });
});
