import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/core/index.js';
import type { DeviceProfile } from '../../../src/devices/index.js';
import { PolicyBook } from '../../../src/policy/index.js';
import { Disclosures, Erasures, Outbox } from '../../../src/share/index.js';
import type { StoreQueries } from '../../../src/store/index.js';
import { ledgerFixture } from '../../helpers/sharing-db.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const TZ = 'Europe/Berlin';
const thermostat = { name: 'thermostat', file: 'x', version: 1, kind: 'thermostat', metrics: { temperature: { type: 'number', unit: '°C', counter: false, never_store: false } } } as unknown as DeviceProfile;
const yesterday = { start: Date.parse('2026-11-21T23:00:00Z'), end: Date.parse('2026-11-22T23:00:00Z') };

async function fixture(deletion: boolean) {
  const f = await ledgerFixture(Date.parse('2026-11-23T12:00:00Z'));
  const policiesDir = tmpDir('sluice-pol-');
  writeFileSync(
    join(policiesDir, 'acme.yaml'),
    `version: 1\nvendor: Acme\nendpoint: https://acme.example/x\n${deletion ? 'deletion_endpoint: https://acme.example/erase\n' : ''}purpose: p\nexpires: 2026-11-23\nschedule: "0 3 * * *"\nsecret_env: ACME_KEY\nshare:\n  - devices: { kind: thermostat }\n    metrics: [temperature]\n    window: 1d\n    stats: [mean]\n`,
  );
  const late: { erasures?: Erasures } = {};
  const book = new PolicyBook({
    db: f.db,
    ledger: f.ledger,
    clock: f.clock,
    timezone: TZ,
    policiesDir,
    devices: () => [{ id: 't1', role: 'device', profile: 'thermostat', baseTopic: null, via: null, source: null, simulated: false, createdAt: 0 }],
    profiles: () => new Map([['thermostat', thermostat]]),
    onStopped: (a, reason) => late.erasures?.request(a, reason),
  });
  const erasures = new Erasures({ db: f.db, ledger: f.ledger, book, clock: f.clock, timezone: TZ, dataDir: f.dir });
  late.erasures = erasures;
  const outbox = new Outbox({ db: f.db, ledger: f.ledger, book, clock: f.clock });
  const queries = { readings: () => [0, 1, 2].map((i) => ({ ts: yesterday.start + i * 3_600_000, value: 20 + i })) } as unknown as StoreQueries;
  const disclosures = new Disclosures({ db: f.db, ledger: f.ledger, book, outbox, queries, clock: f.clock, events: new EventBus(), timezone: TZ, dataDir: f.dir });
  return { ...f, book, outbox, disclosures, erasures };
}

describe('erasure requests at expiry', () => {
  it('an expiry queues one request naming the attempted window and the keyed household id, before the summary is dropped', async () => {
    const f = await fixture(true);
    f.book.approve('acme');
    const run = f.disclosures.run('acme', yesterday);
    const body = JSON.parse(f.outbox.get(run.summaryId!)!.body!.toString('utf8')) as { household: string; version: string; window: { start: string; end: string } };
    expect(f.outbox.claim(1000, () => undefined).kind).toBe('claimed');
    f.clock.set(Date.parse('2026-11-24T12:00:00Z'));
    expect(f.outbox.claim(1000, () => undefined).kind).toBe('dropped');
    const [e, ...more] = f.erasures.list('acme');
    expect(more).toEqual([]);
    expect(e!.document).toMatchObject({ format: 'sluice.erasure/v1', household: body.household, versions: [body.version], windows: [body.window] });
    const kinds = f.ledger.rows().map((r) => r.kind);
    expect(kinds.indexOf('erasure.requested')).toBeGreaterThan(kinds.indexOf('policy.expired'));
    expect(kinds.indexOf('erasure.requested')).toBeLessThan(kinds.indexOf('disclosure.dropped'));
    // The request is claimable though the policy is no longer in force.
    expect(f.erasures.claim(1000, () => undefined)).toMatchObject({ kind: 'claimed', claim: { erasureId: e!.id, attempt: 1 } });
    f.db.close();
  });

  it('no deletion_endpoint: nothing is queued', async () => {
    const f = await fixture(false);
    f.book.approve('acme');
    f.disclosures.run('acme', yesterday);
    expect(f.outbox.claim(1000, () => undefined).kind).toBe('claimed');
    f.clock.set(Date.parse('2026-11-24T12:00:00Z'));
    f.book.recordExpiries();
    expect(f.erasures.list()).toEqual([]);
    f.db.close();
  });
});
