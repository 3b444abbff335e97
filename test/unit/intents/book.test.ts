import { describe, expect, it } from 'vitest';
import { IntentBook, checkOffer, signDocument, freshIdentity, verifyDocument, type IntentRule } from '../../../src/intents/index.js';
import { commonRuns, intentIdentifiers as identifiers } from '../../helpers/linking.js';
import { ledgerFixture } from '../../helpers/sharing-db.js';

const VENDOR_KEY = freshIdentity();
const rule = {
  name: 'filter',
  file: 'filter.yaml',
  line: 2,
  version: 1,
  enabled: true,
  trigger: { device: { kind: 'fridge' }, metric: 'water_filter_life', below: 10 },
  request: { what: 'household.water-filter', quantity: 1, need_within: 14 * 86_400_000, offers_for: 3 * 86_400_000 },
  vendors: [
    { name: 'shop-a', endpoint: 'https://a.example/sluice', public_key: VENDOR_KEY.publicKey },
    { name: 'shop-b', endpoint: 'https://b.example/sluice', public_key: VENDOR_KEY.publicKey },
  ],
  rate_limit: 30 * 86_400_000,
  sensitive_opt_in: false,
} as unknown as IntentRule;

async function openIntent() {
  const f = await ledgerFixture();
  const book = new IntentBook({ db: f.db, ledger: f.ledger, clock: f.clock, timezone: 'Europe/Berlin' });
  const id = book.draft({ rule, deviceId: 'fridge-1', reading: { metric: 'water_filter_life', component: '', value: 5, ts: f.clock.now() }, at: f.clock.now() }, '2026-12-07');
  const detail = book.approve(id, { by: 'ann', where: { country: 'DE', postalPrefix: '104' } });
  return { f, book, id, detail };
}

describe('each vendor gets its own copy of an intent', () => {
  it('two colluding vendors find no common id, reply, key or signature in their copies', async () => {
    const { f, book, detail } = await openIntent();
    const copies = book.pendingDeliveries();
    expect(copies.map((d) => d.vendor)).toEqual(['shop-a', 'shop-b']);
    const [a, b] = copies.map((d) => JSON.parse(d.document) as Record<string, unknown>) as [Record<string, unknown>, Record<string, unknown>];
    // Each copy verifies under its own key only.
    expect(verifyDocument(a, String(a.public_key))).toBe(true);
    expect(verifyDocument(b, String(b.public_key))).toBe(true);
    expect(verifyDocument(a, String(b.public_key))).toBe(false);
    expect(copies[0]!.reply).toBe(a.reply);
    expect(copies[1]!.reply).toBe(b.reply);
    expect(commonRuns(identifiers(a), identifiers(b))).toEqual([]);
    // The content is necessarily alike, and nothing else: the deadline is a whole hour, not the moment of approval.
    const strip = ({ id: _i, reply: _r, public_key: _k, signature: _s, ...rest }: Record<string, unknown>) => rest;
    expect(strip(a)).toEqual(strip(b));
    expect(strip(a)).toEqual(detail.document);
    expect(Date.parse(String(a.offers_until)) % 3_600_000).toBe(0);
    expect(detail.deliveries.map((d) => d.document?.reply)).toEqual([a.reply, b.reply]);
    f.db.close();
  });

  it("an offer is verified against its vendor's reply reference; the acceptance is signed with that copy's key", async () => {
    const { f, book, id } = await openIntent();
    const [a, b] = book.pendingDeliveries() as [ReturnType<IntentBook['pendingDeliveries']>[number], ReturnType<IntentBook['pendingDeliveries']>[number]];
    const offer = (reply: string) =>
      signDocument({ format: 'sluice.offer/v1', offer_id: `o-${reply.slice(0, 4)}`, reply, price: { amount: 30, currency: 'EUR' }, delivery_by: '2026-12-05', valid_until: '2026-12-30T00:00:00Z', terms_accepted: true }, VENDOR_KEY.privateKey);
    // shop-b answering with shop-a's reply reference is refused: a reply belongs to one copy.
    expect(checkOffer(offer(a.reply), b.reply, b.publicKey)).toEqual({ ok: false, reason: 'the offer answers another reply reference' });
    const checked = checkOffer(offer(b.reply), b.reply, b.publicKey);
    if (!checked.ok) throw new Error(checked.reason);
    expect(book.received({ ...b, sent: true }, checked.offer)).toBe(true);
    const [row] = book.offers({ intent: id });
    // More than the intent leaves only under a policy's cover.
    expect(() => book.accept(row!.id, { by: 'ann', disclose: { deliver_to: 'Street 1' } })).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_OFFER_NOT_COVERED' }));
    book.accept(row!.id, { by: 'ann', disclose: { deliver_to: 'Street 1' }, cover: { policy: 'shop-b-delivery', version: 'v1', consentRecords: [{ id: 'rec-1', subject: 'household', sha256: 'abc' }] } });
    const accepted = f.db.raw.prepare<[], { policy: string; version: string; detail: string }>("SELECT policy, version, detail FROM ledger WHERE kind = 'offer.accepted'").get();
    expect(accepted).toMatchObject({ policy: 'shop-b-delivery', version: 'v1' });
    expect(JSON.parse(accepted!.detail)).toMatchObject({ disclose: ['deliver_to'], consent_records: [{ record_id: 'rec-1', subject: 'household', record_sha256: 'abc' }] });
    const [pending] = book.pendingAcceptances();
    const acceptance = JSON.parse(pending!.body) as Record<string, unknown>;
    const bDoc = JSON.parse(b.document) as Record<string, unknown>;
    expect(acceptance.reply).toBe(b.reply);
    expect(verifyDocument(acceptance, String(bDoc.public_key))).toBe(true);
    expect(commonRuns([String(acceptance.signature), String(acceptance.reply)], identifiers(JSON.parse(a.document) as Record<string, unknown>))).toEqual([]);
    // Once closed, no copy's private key is kept.
    book.acceptanceSent(pending!, 200);
    const keys = f.db.raw.prepare<[number], { n: number }>('SELECT COUNT(*) AS n FROM intent_deliveries WHERE intent_id = ? AND private_key IS NOT NULL').get(id);
    expect(keys?.n).toBe(0);
    f.db.close();
  });
});
