import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, canonicalJson, rowHash } from '../../../src/ledger/index.js';
import { ledgerFixture } from '../../helpers/sharing-db.js';

const settle = () => new Promise((r) => setImmediate(r));

describe('ledger', () => {
  it('chains each row to the previous one and writes the head file (0600) after the commit', async () => {
    const { db, ledger, headFile } = await ledgerFixture();
    const a = db.tx(() => ledger.append({ kind: 'policy.approved', vendor: 'v', policy: 'p', version: 'h1' }));
    const b = db.tx(() => ledger.append({ kind: 'disclosure.attempted', vendor: 'v', policy: 'p', version: 'h1', summaryId: 's1', detail: { body_sha256: 'x' } }));
    expect(a.prevHash).toBe(GENESIS_HASH);
    expect(b.prevHash).toBe(a.hash);
    expect(b.hash).toBe(rowHash(a.hash, b));
    await settle();
    expect(JSON.parse(readFileSync(headFile, 'utf8'))).toEqual({ seq: 2, hash: b.hash });
    expect(statSync(headFile).mode & 0o777).toBe(0o600);
    expect(ledger.verify()).toMatchObject({ ok: true, rows: 2, problem: null });
    db.close();
  });

  it('refuses appends outside a transaction, and UPDATE or DELETE of its rows', async () => {
    const { db, ledger } = await ledgerFixture();
    expect(() => ledger.append({ kind: 'policy.revoked', vendor: null, policy: null, version: null })).toThrow(/inside the transaction/);
    db.tx(() => ledger.append({ kind: 'policy.revoked', vendor: null, policy: null, version: null }));
    expect(() => db.raw.prepare("UPDATE ledger SET kind = 'policy.approved'").run()).toThrow(/append-only/);
    expect(() => db.raw.prepare('DELETE FROM ledger').run()).toThrow(/append-only/);
    db.close();
  });

  it('a rolled-back append leaves neither a row nor a head file naming it', async () => {
    const { db, ledger, headFile } = await ledgerFixture();
    db.tx(() => ledger.append({ kind: 'policy.approved', vendor: 'v', policy: 'p', version: 'h' }));
    await settle();
    const before = readFileSync(headFile, 'utf8');
    expect(() =>
      db.tx(() => {
        ledger.append({ kind: 'policy.revoked', vendor: 'v', policy: 'p', version: 'h' });
        throw new Error('the revocation failed');
      }),
    ).toThrow('the revocation failed');
    await settle();
    expect(readFileSync(headFile, 'utf8')).toBe(before);
    expect(ledger.verify().ok).toBe(true);
    db.close();
  });

  it('verify names an edited row, a deleted middle row, a truncated end and a missing head file', async () => {
    const { db, ledger } = await ledgerFixture();
    for (let i = 0; i < 4; i++) db.tx(() => ledger.append({ kind: 'disclosure.acknowledged', vendor: 'v', policy: 'p', version: 'h', detail: { status: 200, i } }));
    await settle();
    db.raw.exec('DROP TRIGGER ledger_no_update; DROP TRIGGER ledger_no_delete;');
    db.raw.prepare('UPDATE ledger SET detail = ? WHERE seq = 2').run(canonicalJson({ status: 500, i: 1 }));
    expect(ledger.verify().problem).toEqual({ seq: 2, message: 'row 2 was altered: its content does not match its hash' });
    db.raw.prepare('UPDATE ledger SET detail = ? WHERE seq = 2').run(canonicalJson({ i: 1, status: 200 }));
    expect(ledger.verify().ok).toBe(true);
    db.raw.prepare('DELETE FROM ledger WHERE seq = 4').run();
    expect(ledger.verify().problem?.message).toBe('the chain ends at row 3, but the head file names row 4: rows were removed from the end');
    // A later append does not hide the truncation: the head file never moves back, and seq 4 is never reused.
    db.tx(() => ledger.append({ kind: 'policy.revoked', vendor: 'v', policy: 'p', version: 'h' }));
    await settle();
    expect(ledger.verify().ok).toBe(false);
    db.raw.prepare('DELETE FROM ledger WHERE seq = 2').run();
    expect(ledger.verify().problem?.message).toMatch(/^row 2 is missing/);
    db.close();
    const fresh = await ledgerFixture();
    fresh.db.tx(() => fresh.ledger.append({ kind: 'policy.approved', vendor: 'v', policy: 'p', version: 'h' }));
    await settle();
    unlinkSync(fresh.headFile);
    expect(fresh.ledger.verify().problem?.message).toMatch(/head file .* is missing/);
    fresh.db.close();
  });

  it('verify tolerates a head file one commit behind (a crash before the file was written)', async () => {
    const { db, ledger, headFile } = await ledgerFixture();
    db.tx(() => ledger.append({ kind: 'policy.approved', vendor: 'v', policy: 'p', version: 'h' }));
    await settle();
    const stale = readFileSync(headFile, 'utf8');
    db.tx(() => ledger.append({ kind: 'policy.revoked', vendor: 'v', policy: 'p', version: 'h' }));
    await settle();
    writeFileSync(headFile, stale);
    expect(ledger.verify()).toMatchObject({ ok: true, lagging: 1 });
    db.close();
  });
});
