import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { signatureHeader } from '../../../src/share/index.js';
import { vendorKey } from '../../../src/summarise/index.js';
import { acceptanceDocument, agreementOf, checkAnswer, documentBytes, profferDocument, termsKey } from '../../../src/terms/index.js';
import { receiver, SummaryStore, termsSettings } from '../../../examples/vendor-receiver/server.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const KEY = Buffer.from('example-secret');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function start(env: Record<string, string>) {
  const terms = termsSettings(env);
  const server = createServer(receiver({ store: new SummaryStore(tmpDir()), keyFor: () => KEY, terms, log: () => undefined }));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { terms, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/myterms.json` };
}

const key = termsKey(vendorKey(Buffer.alloc(32, 1), 'Example'));
const proffer = profferDocument({ id: 'p1', vendor: 'Example', household: 'h'.repeat(32), term: 'SD-BASE-DP', at: new Date().toISOString(), key });

async function post(url: string, doc: Record<string, unknown>) {
  const body = documentBytes(doc);
  const res = await fetch(url, { method: 'POST', body, headers: { 'sluice-signature': signatureHeader(KEY, 'k', Math.floor(Date.now() / 1000), body) } });
  return { status: res.status, answer: (await res.json()) as Record<string, unknown>, sent: { id: String(doc.id), sha256: sha256(body) } };
}

describe('examples/vendor-receiver answers the household terms', () => {
  it('accepts by default with a signed answer Sluice takes, and computes the same agreement hash', async () => {
    const v = await start({});
    const r = await post(v.url, proffer);
    expect(r.status).toBe(200);
    const checked = checkAnswer(r.answer, r.sent, v.terms.publicKey);
    expect(checked).toMatchObject({ ok: true, answer: { decision: 'accept', term: { id: 'SD-BASE-DP' } } });
    expect(v.terms.agreements.get('h'.repeat(32))).toBe(agreementOf(proffer, r.answer).sha256);
  });

  it('counters once and confirms the acceptance of its counter-offer; declines when told to', async () => {
    const v = await start({ VENDOR_TERMS: 'counter:SD-BASE-A', VENDOR_TERMS_REASON: 'we need analytics' });
    const c = await post(v.url, proffer);
    expect(checkAnswer(c.answer, c.sent, v.terms.publicKey)).toMatchObject({ ok: true, answer: { decision: 'counter', term: { id: 'SD-BASE-A' }, reason: 'we need analytics' } });
    const acceptance = acceptanceDocument({ id: 'a1', vendor: 'Example', household: 'h'.repeat(32), term: 'SD-BASE-A', counterSha256: sha256(documentBytes(c.answer)), at: new Date().toISOString(), key });
    const ok = await post(v.url, acceptance);
    expect(checkAnswer(ok.answer, ok.sent, v.terms.publicKey)).toMatchObject({ ok: true, answer: { decision: 'accept', term: { id: 'SD-BASE-A' } } });

    const d = await start({ VENDOR_TERMS: 'decline' });
    const no = await post(d.url, proffer);
    expect(checkAnswer(no.answer, no.sent, d.terms.publicKey)).toMatchObject({ ok: true, answer: { decision: 'decline' } });
  });

  it('refuses a proffer without the HMAC signature or with a broken household signature', async () => {
    const v = await start({});
    const unsigned = await fetch(v.url, { method: 'POST', body: documentBytes(proffer) });
    expect(unsigned.status).toBe(401);
    expect((await post(v.url, { ...proffer, term: { id: 'SD-BASE-ATP', roster: 'IEEE 7012-2025' } })).status).toBe(400);
  });
});
