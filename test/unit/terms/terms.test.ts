import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, isSluiceError } from '../../../src/core/index.js';
import { documentBytes, signTerms, type TermsClaim } from '../../../src/terms/index.js';
import { appFixture } from '../app/fixture.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const vendor = generateKeyPairSync('ed25519');
const vendorPublic = vendor.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

/** The vendor's signed answer to the document a claim carries. */
function answerTo(claim: TermsClaim, decision: 'accept' | 'counter' | 'decline', term?: string): Buffer {
  const doc = JSON.parse(claim.body.toString()) as { id: string; term: { id: string; roster: string } };
  return documentBytes(
    signTerms(
      { format: 'sluice.terms/v1', type: 'answer', in_reply_to: doc.id, in_reply_to_sha256: sha256(claim.body), decision, term: { id: term ?? doc.term.id, roster: doc.term.roster }, answered_at: '2026-11-23T12:00:01Z', public_key: vendorPublic },
      vendor.privateKey,
    ),
  );
}

async function scene() {
  const f = await appFixture();
  await f.app.call('devices.add', { id: 't1', profile: 'thermostat' });
  await f.app.call('policy.approve', { name: 'acme' });
  return { ...f, terms: f.sharing.terms };
}

describe('the terms store', () => {
  it('proffers SD-BASE-DP once to each vendor in force, and stamps the agreement in its consent record', async () => {
    const f = await scene();
    try {
      expect(f.terms.standing('acme-heating')).toMatchObject({ ok: false, state: 'none' });
      expect(f.terms.prepare()).toBe(1);
      expect(f.terms.prepare()).toBe(0);
      const claim = f.terms.claim(1000)!;
      expect(claim.endpoint).toBe('https://acme.example/.well-known/myterms.json');
      expect(JSON.parse(claim.body.toString())).toMatchObject({ type: 'proffer', vendor: 'acme-heating', term: { id: 'SD-BASE-DP' } });
      // Leased: not claimed twice while in flight.
      expect(f.terms.claim(1000)).toBeNull();
      expect(f.terms.standing('Acme-Heating')).toMatchObject({ ok: false, state: 'proffered' });

      expect(f.terms.answered(claim, answerTo(claim, 'accept'))).toEqual({ taken: true, state: 'accepted' });
      const standing = f.terms.standing('acme-heating');
      expect(standing.ok).toBe(true);
      const sha = (standing as { sha256: string }).sha256;
      expect(sha).toBe(sha256(Buffer.from(canonicalJson(f.terms.current('acme-heating')!.agreement))));
      const [record] = f.sharing.consent.records.list({ policy: 'acme' });
      expect(record!.record.agreement_sha256).toBe(sha);
      expect(record!.record.history.map((h) => h.event)).toEqual(['given', 'terms-agreed']);
      expect(f.sharing.consent.records.kantara(record!.id)['x-sluice-agreement-sha256']).toBe(sha);
      expect(f.sharing.ledger.rows().filter((r) => r.kind.startsWith('terms.')).map((r) => r.kind)).toEqual(['terms.proffered', 'terms.answered', 'terms.agreed']);
    } finally {
      f.context.close();
    }
  });

  it('a counter-offer waits for the household; accepting it sends a signed acceptance, agreed when the vendor confirms', async () => {
    const f = await scene();
    try {
      f.terms.prepare();
      const proffer = f.terms.claim(1000)!;
      expect(f.terms.answered(proffer, answerTo(proffer, 'counter', 'SD-BASE-A'))).toEqual({ taken: true, state: 'countered' });
      expect(f.terms.claim(1000)).toBeNull();
      expect(f.terms.standing('acme-heating')).toMatchObject({ ok: false, message: expect.stringContaining('counter-offered SD-BASE-A') });
      const row = await f.app.call('terms.accept', { vendor: 'acme-heating', as: 'Ana' });
      expect(row).toMatchObject({ state: 'accepting', decided_by: 'Ana', in_force: false });
      const acceptance = f.terms.claim(1000)!;
      const doc = JSON.parse(acceptance.body.toString()) as Record<string, unknown>;
      expect(doc).toMatchObject({ type: 'acceptance', term: { id: 'SD-BASE-A' }, counter_sha256: sha256(documentBytes(f.terms.current('acme-heating')!.counter!)) });
      // An answer to the proffer, not to the acceptance, is refused and changes nothing.
      expect(f.terms.answered(acceptance, answerTo(proffer, 'accept', 'SD-BASE-A'))).toEqual({ taken: false, reason: 'the answer is to another document' });
      expect(f.terms.answered(acceptance, answerTo(acceptance, 'accept'))).toEqual({ taken: true, state: 'accepted' });
      expect(f.terms.standing('acme-heating')).toMatchObject({ ok: true, term: 'SD-BASE-A' });
      const chosen = f.sharing.ledger.rows().find((r) => r.kind === 'terms.chosen')!;
      expect(chosen.detail).toMatchObject({ choice: 'accept', by: 'Ana', term: 'SD-BASE-A' });
    } finally {
      f.context.close();
    }
  });

  it('a declined counter-offer or a decline sends nothing; only a counter-offer can be accepted; the household may proffer again', async () => {
    const f = await scene();
    try {
      f.terms.prepare();
      const c = f.terms.claim(1000)!;
      f.terms.answered(c, answerTo(c, 'counter', 'SD-BASE-ATP'));
      expect(await f.app.call('terms.decline', { vendor: 'acme-heating' })).toMatchObject({ state: 'refused', in_force: false });
      const again = await f.app.call('terms.accept', { vendor: 'acme-heating' }).catch((e: unknown) => e);
      expect(isSluiceError(again, 'SLUICE_ERR_TERMS_STATE')).toBe(true);
      expect(f.terms.prepare()).toBe(0);
      expect(await f.app.call('terms.proffer', { vendor: 'acme-heating' })).toMatchObject({ state: 'proffered' });
      const p = f.terms.claim(1000)!;
      expect(f.terms.answered(p, answerTo(p, 'decline'))).toEqual({ taken: true, state: 'declined' });
      expect(f.terms.standing('acme-heating')).toMatchObject({ ok: false, message: 'terms not accepted by acme-heating: acme-heating declined SD-BASE-DP' });
      // Pinned at first use: an answer by another key is refused from now on.
      await f.app.call('terms.proffer', { vendor: 'acme-heating' });
      const q = f.terms.claim(1000)!;
      const other = generateKeyPairSync('ed25519');
      const forged = documentBytes(
        signTerms({ ...(JSON.parse(answerTo(q, 'accept').toString()) as Record<string, unknown>), public_key: other.publicKey.export({ type: 'spki', format: 'der' }).toString('base64') }, other.privateKey),
      );
      expect(f.terms.answered(q, forged)).toEqual({ taken: false, reason: "the answer names a key other than the vendor's pinned key" });
      expect(f.sharing.ledger.rows().some((r) => r.kind === 'terms.answer_refused')).toBe(true);
    } finally {
      f.context.close();
    }
  });

  it('a revoked policy stops the exchange: nothing more is proffered to that vendor', async () => {
    const f = await scene();
    try {
      f.terms.prepare();
      await f.app.call('policy.revoke', { name: 'acme' });
      expect(f.terms.claim(1000)).toBeNull();
      expect(f.terms.current('acme-heating')!.state).toBe('superseded');
      expect(f.terms.prepare()).toBe(0);
    } finally {
      f.context.close();
    }
  });
});
