import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/core/index.js';
import { vendorKey } from '../../../src/summarise/index.js';
import { acceptanceDocument, agreementOf, checkAnswer, documentBytes, profferDocument, signTerms, signedBytes, termsKey, verifyTerms } from '../../../src/terms/index.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const SECRET = Buffer.alloc(32, 7);

function vendorSide() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
}

function proffer(vendor = 'Acme Heating') {
  const key = termsKey(vendorKey(SECRET, vendor));
  return profferDocument({ id: 'p1', vendor, household: 'h'.repeat(32), term: 'SD-BASE-DP', at: '2026-12-01T10:00:00.000Z', key });
}

function answer(to: Record<string, unknown>, v: ReturnType<typeof vendorSide>, over: Record<string, unknown> = {}) {
  return signTerms(
    {
      format: 'sluice.terms/v1',
      type: 'answer',
      in_reply_to: to.id,
      in_reply_to_sha256: sha256(documentBytes(to)),
      decision: 'accept',
      term: { id: 'SD-BASE-DP', roster: 'IEEE 7012-2025' },
      answered_at: '2026-12-01T10:00:01Z',
      public_key: v.publicKey,
      ...over,
    },
    v.privateKey,
  );
}

describe('canonical JSON is RFC 8785 (JCS) for the values the exchange uses', () => {
  it('serialises numbers, strings and literals as RFC 8785 §3.2.2 does', () => {
    // RFC 8785 section 3.2.2 example input and output.
    const input = JSON.parse('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}');
    expect(canonicalJson(input)).toBe('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  });

  it('sorts keys by UTF-16 code units, as RFC 8785 §3.2.3 does', () => {
    const input = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
    const keys = Object.keys(JSON.parse(canonicalJson(input)) as object);
    // JSON.parse keeps insertion order for these (none is an array index except "1", which sorts first anyway).
    expect(canonicalJson(input)).toBe(
      `{${['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'].map((k) => `${JSON.stringify(k)}:${JSON.stringify(input[k as keyof typeof input])}`).join(',')}}`,
    );
    expect(keys).toHaveLength(7);
  });

  it('refuses values JSON cannot carry', () => {
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(/NaN/);
    expect(canonicalJson(-0)).toBe('0');
  });
});

describe('the household key and its signatures', () => {
  it('is derived per vendor: the same at one vendor every time, unrelated at another', () => {
    const a1 = termsKey(vendorKey(SECRET, 'Acme Heating'));
    const a2 = termsKey(vendorKey(SECRET, 'acme  heating'));
    const b = termsKey(vendorKey(SECRET, 'Other Vendor'));
    expect(a1.publicKey).toBe(a2.publicKey);
    expect(a1.publicKey).not.toBe(b.publicKey);
  });

  it("signs the proffer's canonical JSON; any change to a field breaks it", () => {
    const p = proffer();
    expect(verifyTerms(p, p.public_key)).toBe(true);
    expect(signedBytes(p).toString()).toBe(canonicalJson({ ...p, signature: undefined }));
    expect(verifyTerms({ ...p, term: { id: 'SD-BASE-A', roster: 'IEEE 7012-2025' } }, p.public_key)).toBe(false);
    expect(verifyTerms({ ...p, household: 'x'.repeat(32) }, p.public_key)).toBe(false);
    // Another vendor's household key does not verify it.
    expect(verifyTerms(p, proffer('Other Vendor').public_key)).toBe(false);
    expect(verifyTerms({ ...p, signature: 'AAAA' }, p.public_key)).toBe(false);
    expect(verifyTerms(p, 'not-a-key')).toBe(false);
  });

  it('the acceptance of a counter-offer names the counter by hash and is signed by the same household key', () => {
    const key = termsKey(vendorKey(SECRET, 'Acme Heating'));
    const a = acceptanceDocument({ id: 'a1', vendor: 'Acme Heating', household: 'h'.repeat(32), term: 'SD-BASE-A', counterSha256: 'c'.repeat(64), at: '2026-12-01T10:00:00.000Z', key });
    expect(a).toMatchObject({ type: 'acceptance', term: { id: 'SD-BASE-A' }, counter_sha256: 'c'.repeat(64), public_key: key.publicKey });
    expect(verifyTerms(a, key.publicKey)).toBe(true);
  });
});

describe("checking the vendor's answer", () => {
  const p = proffer();
  const sent = { id: p.id, sha256: sha256(documentBytes(p)) };
  const v = vendorSide();

  it('takes a signed answer to exactly this proffer, with the pinned key or (none pinned) the key it names', () => {
    const a = answer(p, v);
    expect(checkAnswer(a, sent, v.publicKey)).toMatchObject({ ok: true, publicKey: v.publicKey });
    expect(checkAnswer(a, sent, null)).toMatchObject({ ok: true, publicKey: v.publicKey });
  });

  it('refuses an answer to another document, a forged one, one by another key, and one off the roster', () => {
    const other = vendorSide();
    expect(checkAnswer(answer(p, v, { in_reply_to: 'p2' }), sent, null)).toEqual({ ok: false, reason: 'the answer is to another document' });
    expect(checkAnswer(answer(p, v, { in_reply_to_sha256: '0'.repeat(64) }), sent, null)).toEqual({ ok: false, reason: 'the answer is to another document' });
    expect(checkAnswer({ ...answer(p, v), decision: 'counter' }, sent, null)).toEqual({ ok: false, reason: "the answer's signature does not match the vendor's key" });
    // Signed by someone else who names the vendor's pinned key.
    const forged = signTerms({ ...answer(p, v), signature: undefined }, other.privateKey);
    expect(checkAnswer(forged, sent, v.publicKey)).toEqual({ ok: false, reason: "the answer's signature does not match the vendor's key" });
    expect(checkAnswer(answer(p, other), sent, v.publicKey)).toEqual({ ok: false, reason: "the answer names a key other than the vendor's pinned key" });
    expect(checkAnswer(answer(p, v, { term: { id: 'SD-EVERYTHING', roster: 'IEEE 7012-2025' } }), sent, null)).toMatchObject({ ok: false, reason: expect.stringContaining('term.id: not a term of the IEEE 7012 roster') });
    expect(checkAnswer(answer(p, v, { extra: 1 }), sent, null)).toMatchObject({ ok: false });
    expect(checkAnswer('<html>', sent, null)).toMatchObject({ ok: false, reason: expect.stringContaining('not a sluice.terms/v1 answer') });
  });

  it("the agreement's hash covers both signed documents and differs between vendors", () => {
    const a = answer(p, v);
    const one = agreementOf(p, a);
    expect(one.sha256).toBe(sha256(one.bytes));
    expect(JSON.parse(one.bytes.toString())).toEqual({ format: 'sluice.terms/v1', type: 'agreement', household_signed: p, vendor_signed: a });
    const q = proffer('Other Vendor');
    expect(agreementOf(q, answer(q, v)).sha256).not.toBe(one.sha256);
  });
});

describe('JSON Schemas of the exchange', () => {
  it('docs/schemas/terms-*.json are generated from the zod schemas, and what Sluice signs satisfies them', async () => {
    const { readFileSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { householdDocumentSchema, termsJsonSchemas } = await import('../../../src/terms/index.js');
    for (const [file, schema] of Object.entries(termsJsonSchemas())) {
      const path = join(import.meta.dirname, '..', '..', '..', 'docs', 'schemas', file);
      const text = `${JSON.stringify(schema, null, 2)}\n`;
      if (process.env.UPDATE_DOCS === '1') writeFileSync(path, text);
      expect(readFileSync(path, 'utf8')).toBe(text);
    }
    const p = profferDocument({ id: 'a'.repeat(32), vendor: 'Acme', household: 'b'.repeat(32), term: 'SD-BASE-DP', at: '2026-12-01T10:00:00.000Z', key: termsKey(vendorKey(SECRET, 'Acme')) });
    expect(householdDocumentSchema.safeParse(p).success).toBe(true);
    expect(householdDocumentSchema.safeParse({ ...p, extra: 1 }).success).toBe(false);
  });
});
