import { createHmac, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson, sha256Hex } from '../core/index.js';
import { ROSTER, isTermId, termRef, type TermId } from './roster.js';

export const TERMS_FORMAT = 'sluice.terms/v1';

// PKCS#8 DER of an Ed25519 private key is this fixed prefix followed by the 32-byte seed (RFC 8410).
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The household's Ed25519 key at one vendor, derived from that vendor's key: nothing to store, and unrelated at every other vendor. [PRIV-13] */
export interface TermsKey {
  privateKey: KeyObject;
  /** base64 SPKI DER, as it appears in `public_key`. */
  publicKey: string;
}

export function termsKey(vendorKey: Buffer): TermsKey {
  const seed = createHmac('sha256', vendorKey).update('sluice-terms-key/1').digest();
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('base64') };
}

/** The bytes a signature covers: the RFC 8785 canonical JSON of the document without `signature`. */
export function signedBytes(doc: Record<string, unknown>): Buffer {
  const { signature: _drop, ...rest } = doc;
  return Buffer.from(canonicalJson(rest), 'utf8');
}

/** Adds an Ed25519 `signature` (base64) over the document's canonical JSON. */
export function signTerms<T extends Record<string, unknown>>(doc: T, key: KeyObject): T & { signature: string } {
  return { ...doc, signature: sign(null, signedBytes(doc), key).toString('base64') };
}

/** Whether the document's signature was made by this base64 SPKI Ed25519 key; false for anything malformed. */
export function verifyTerms(doc: unknown, publicKeyB64: string): boolean {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return false;
  const signature = (doc as Record<string, unknown>).signature;
  if (typeof signature !== 'string') return false;
  try {
    const key = createPublicKey({ key: Buffer.from(publicKeyB64, 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ed25519') return false;
    return verify(null, signedBytes(doc as Record<string, unknown>), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** The bytes sent and hashed: canonical JSON of the signed document. */
export function documentBytes(doc: Record<string, unknown>): Buffer {
  return Buffer.from(canonicalJson(doc), 'utf8');
}

/** `sluice.terms/v1` proffer: the household offers one roster term to one vendor. */
export interface ProfferDocument {
  [key: string]: unknown;
  format: typeof TERMS_FORMAT;
  type: 'proffer';
  id: string;
  vendor: string;
  household: string;
  term: { id: TermId; roster: typeof ROSTER };
  proffered_at: string;
  public_key: string;
  signature: string;
}

/** `sluice.terms/v1` acceptance: the household takes the vendor's counter-offer. */
export interface AcceptanceDocument {
  [key: string]: unknown;
  format: typeof TERMS_FORMAT;
  type: 'acceptance';
  id: string;
  vendor: string;
  household: string;
  term: { id: TermId; roster: typeof ROSTER };
  counter_sha256: string;
  accepted_at: string;
  public_key: string;
  signature: string;
}

export function profferDocument(input: { id: string; vendor: string; household: string; term: TermId; at: string; key: TermsKey }): ProfferDocument {
  const doc = { format: TERMS_FORMAT as typeof TERMS_FORMAT, type: 'proffer' as const, id: input.id, vendor: input.vendor, household: input.household, term: termRef(input.term), proffered_at: input.at, public_key: input.key.publicKey };
  return signTerms(doc, input.key.privateKey);
}

export function acceptanceDocument(input: { id: string; vendor: string; household: string; term: TermId; counterSha256: string; at: string; key: TermsKey }): AcceptanceDocument {
  const doc = {
    format: TERMS_FORMAT as typeof TERMS_FORMAT,
    type: 'acceptance' as const,
    id: input.id,
    vendor: input.vendor,
    household: input.household,
    term: termRef(input.term),
    counter_sha256: input.counterSha256,
    accepted_at: input.at,
    public_key: input.key.publicKey,
  };
  return signTerms(doc, input.key.privateKey);
}

/** `sluice.terms/v1` answer, as the vendor signs it. */
export const answerSchema = z
  .object({
    format: z.literal(TERMS_FORMAT),
    type: z.literal('answer'),
    in_reply_to: z.string().min(1).max(100),
    in_reply_to_sha256: z.string().regex(/^[0-9a-f]{64}$/),
    decision: z.enum(['accept', 'counter', 'decline']),
    term: z.object({ id: z.string().refine(isTermId, { message: 'not a term of the IEEE 7012 roster' }), roster: z.literal(ROSTER) }).strict(),
    reason: z.string().max(500).optional(),
    answered_at: z.string().datetime({ offset: true }),
    public_key: z.string().regex(/^[A-Za-z0-9+/]+=*$/),
    signature: z.string().min(1),
  })
  .strict();

export type AnswerDocument = z.output<typeof answerSchema> & { term: { id: TermId } };

export type AnswerCheck = { ok: true; answer: AnswerDocument; publicKey: string } | { ok: false; reason: string };

/**
 * An answer is taken only when it is a well-formed `sluice.terms/v1` answer to exactly the
 * document sent (id and hash) and signed by the vendor's key: the pinned one, or, with none
 * pinned, the key it names (then pinned by the caller).
 */
export function checkAnswer(raw: unknown, sent: { id: string; sha256: string }, pinnedKey: string | null): AnswerCheck {
  const parsed = answerSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `not a ${TERMS_FORMAT} answer: ${issue ? `${issue.path.join('.') || 'document'}: ${issue.message}` : 'invalid'}` };
  }
  const answer = parsed.data as AnswerDocument;
  if (answer.in_reply_to !== sent.id || answer.in_reply_to_sha256 !== sent.sha256) return { ok: false, reason: 'the answer is to another document' };
  const key = pinnedKey ?? answer.public_key;
  if (pinnedKey !== null && answer.public_key !== pinnedKey) return { ok: false, reason: "the answer names a key other than the vendor's pinned key" };
  if (!verifyTerms(raw, key)) return { ok: false, reason: "the answer's signature does not match the vendor's key" };
  return { ok: true, answer, publicKey: key };
}

/**
 * The agreement: the household's signed document (its proffer, or its acceptance of a counter)
 * and the vendor's signed acceptance of it. Its SHA-256 over the canonical JSON is what every
 * later summary to this vendor carries; both sides can compute it from what they hold. It
 * contains the vendor's own household pseudonym and per-vendor keys, so it is never equal at two vendors.
 */
export function agreementOf(household: Record<string, unknown>, vendor: Record<string, unknown>): { bytes: Buffer; sha256: string } {
  const bytes = documentBytes({ format: TERMS_FORMAT, type: 'agreement', household_signed: household, vendor_signed: vendor });
  return { bytes, sha256: sha256Hex(bytes) };
}

const termSchema = z.object({ id: z.string().refine(isTermId, { message: 'not a term of the IEEE 7012 roster' }).describe('An IEEE 7012 roster term, e.g. SD-BASE-DP.'), roster: z.literal(ROSTER) }).strict();
const householdFields = {
  format: z.literal(TERMS_FORMAT),
  id: z.string().regex(/^[0-9a-f]{32}$/).describe("The document's id, keyed for this vendor; equals Idempotency-Key."),
  vendor: z.string().describe('The vendor as the policy names it.'),
  household: z.string().regex(/^[0-9a-f]{32}$/).describe("The household's pseudonym at this vendor, as in its summaries."),
  term: termSchema,
  public_key: z.string().describe("The household's Ed25519 key for this vendor (base64 SPKI DER)."),
  signature: z.string().describe('Ed25519 (base64) over the canonical JSON (RFC 8785) of the document without signature.'),
};

/** What the household sends: a proffer, or its acceptance of a counter-offer. */
export const householdDocumentSchema = z.discriminatedUnion('type', [
  z.object({ ...householdFields, type: z.literal('proffer'), proffered_at: z.string().datetime({ offset: true }) }).strict(),
  z
    .object({ ...householdFields, type: z.literal('acceptance'), counter_sha256: z.string().regex(/^[0-9a-f]{64}$/).describe("SHA-256 of the vendor's counter answer (canonical JSON)."), accepted_at: z.string().datetime({ offset: true }) })
    .strict(),
]);

/** docs/schemas/terms-proffer.json and terms-answer.json, generated from the schemas the code checks with. */
export function termsJsonSchemas(): Record<'terms-proffer.json' | 'terms-answer.json', Record<string, unknown>> {
  const of = (schema: z.ZodType, id: string, title: string) => ({ ...(z.toJSONSchema(schema, { unrepresentable: 'any' }) as Record<string, unknown>), $id: `https://sluice.invalid/schemas/${id}`, title });
  return {
    'terms-proffer.json': of(householdDocumentSchema, 'terms-proffer.json', 'Sluice terms: the household proffer or acceptance (sluice.terms/v1)'),
    'terms-answer.json': of(answerSchema, 'terms-answer.json', "Sluice terms: the vendor's signed answer (sluice.terms/v1)"),
  };
}
